//! Tests of the schema walk, and the check that the schema tree matches the
//! typed structs in `raw` key for key.

use std::cell::Cell;

use serde::de::{self, Deserialize, Visitor};
use serde::forward_to_deserialize_any;

use super::*;
use crate::raw;

/// A deserializer that only records the field list a derived struct asks
/// for (serde passes it to `deserialize_struct`).
struct FieldList<'a>(&'a Cell<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for FieldList<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(fields);
        Err(de::Error::custom("recorded"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

fn fields_of<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    let cell = Cell::new(&[][..]);
    let _ = T::deserialize(FieldList(&cell));
    let mut fields = cell.get().to_vec();
    fields.sort_unstable();
    fields
}

/// The schema's keys at a path such as `spec.queries[*].params`.
fn schema_keys(path: &str) -> Vec<&'static str> {
    let mut shape = &FILE;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, list) = part
            .strip_suffix("[*]")
            .map_or((part, false), |k| (k, true));
        let Shape::Struct(fields) = shape else {
            panic!("{path}: not a struct at {key}")
        };
        shape = &fields
            .iter()
            .find(|(f, _)| *f == key)
            .unwrap_or_else(|| panic!("{path}: no {key}"))
            .1;
        if list {
            let Shape::List(item) = shape else {
                panic!("{path}: {key} is not a list")
            };
            shape = item;
        }
    }
    let Shape::Struct(fields) = shape else {
        panic!("{path}: not a struct")
    };
    let mut keys: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn schema_matches_the_typed_structs() {
    let pairs: Vec<(&str, Vec<&str>)> = vec![
        ("", fields_of::<raw::BenchmarkFile>()),
        ("metadata", fields_of::<raw::Metadata>()),
        ("spec", fields_of::<raw::Spec>()),
        ("spec.target", fields_of::<raw::Target>()),
        ("spec.target.auth", fields_of::<raw::Auth>()),
        ("spec.target.tenant", fields_of::<raw::Tenant>()),
        ("spec.target.tls", fields_of::<raw::Tls>()),
        ("spec.workload", fields_of::<raw::Workload>()),
        ("spec.workload.stages[*]", fields_of::<raw::Stage>()),
        ("spec.queries[*]", fields_of::<raw::Query>()),
        ("spec.queries[*].params", fields_of::<raw::Params>()),
        ("spec.workers", fields_of::<raw::Workers>()),
        ("spec.workers.resources", fields_of::<raw::Resources>()),
        (
            "spec.workers.resources.requests",
            fields_of::<raw::ResourceList>(),
        ),
        (
            "spec.workers.resources.limits",
            fields_of::<raw::ResourceList>(),
        ),
        ("spec.reporting", fields_of::<raw::Reporting>()),
        ("spec.reporting.storage", fields_of::<raw::Storage>()),
        ("spec.thresholds[*]", fields_of::<raw::Threshold>()),
    ];
    for (path, fields) in pairs {
        assert!(!fields.is_empty(), "{path}: no fields recorded");
        assert_eq!(
            schema_keys(path),
            fields,
            "schema and raw struct differ at `{path}`"
        );
    }
}

fn walked(yaml: &str) -> (Value, Vec<String>) {
    let mut doc: Value = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Problems::default();
    check(&mut doc, &mut problems);
    let errors = match problems.finish() {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(|p| p.to_string()).collect(),
    };
    (doc, errors)
}

#[test]
fn unknown_keys_get_the_closest_known_key() {
    let (_, errors) = walked("spec:\n  workload:\n    total_users: 5\n    durration: 1m\n");
    assert_eq!(
        errors,
        vec![
            "spec.workload.durration: unknown field; did you mean `duration`?",
            "spec.workload.total_users: unknown field; did you mean `total_concurrent_users`?",
        ]
    );
}

#[test]
fn misplaced_keys_say_where_they_belong() {
    let (_, errors) = walked("spec:\n  duration: 1m\n");
    assert_eq!(
        errors,
        vec!["spec.duration: unknown field here; `duration` belongs under `spec.workload`"]
    );
}

#[test]
fn far_off_keys_list_the_allowed_ones() {
    let (_, errors) = walked("spec:\n  target:\n    tls:\n      zzz: 1\n");
    assert_eq!(
        errors,
        vec![
            "spec.target.tls.zzz: unknown field; expected one of `ca_file`, `insecure_skip_verify`"
        ]
    );
}

#[test]
fn wrong_types_are_reported_and_removed() {
    let yaml = "spec:\n  target:\n    http2: yes\n  workload:\n    total_concurrent_users: 1.5\n  queries:\n    - name: a\n    - 7\n";
    let (doc, errors) = walked(yaml);
    assert_eq!(
        errors,
        vec![
            "spec.queries[1]: expected a map, found a number",
            "spec.target.http2: expected `true` or `false`, found text",
            "spec.workload.total_concurrent_users: expected a whole number, found 1.5",
        ]
    );
    // The bad list item is replaced so later indexes stay put.
    assert_eq!(doc["spec"]["queries"].as_sequence().map(Vec::len), Some(2));
    assert!(doc["spec"]["target"].get("http2").is_none());
}

#[test]
fn numbers_become_text_where_text_is_expected() {
    let (doc, errors) = walked(
        "spec:\n  workload:\n    duration: 600\n  target:\n    headers:\n      X-Version: 2\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(doc["spec"]["workload"]["duration"].as_str(), Some("600"));
    assert_eq!(
        doc["spec"]["target"]["headers"]["X-Version"].as_str(),
        Some("2")
    );
}

#[test]
fn empty_values_mean_unset_and_non_text_keys_are_rejected() {
    let (doc, errors) = walked("spec:\n  workload:\n    ramp_up_time:\n  3: x\n");
    assert_eq!(errors, vec!["spec.3: keys must be text, found a number"]);
    assert!(doc["spec"]["workload"].get("ramp_up_time").is_none());
}

#[test]
fn a_document_that_is_not_a_map_is_one_error() {
    let (_, errors) = walked("- a\n- b\n");
    assert_eq!(
        errors,
        vec!["the file must be a YAML map with `apiVersion`, `kind`, `metadata` and `spec`; expected a map, found a list"]
    );
}
