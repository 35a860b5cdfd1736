//! Where a [`crate::RunStats`] keeps the seconds it no longer holds in
//! full: packed bytes (see `run.rs`: zlib of the interval's JSON) by seq,
//! in memory or in a spill file. A second may have several parts: a late
//! report for an archived second is added as a part of its own (cheap:
//! its size, not the second's), and readers merge the parts.
//!
//! A one-hour run of a 200-node fleet archives ~100 KB per second even
//! packed (a second merged over nodes has thousands of recorded buckets per
//! histogram): in memory that is 360 MB an hour, so a coordinator's memory
//! would grow for as long as the run lasts (issue 6.4). With a spill file
//! only the index stays in memory (a few dozen bytes per second) and the
//! packed seconds are read back one at a time when a report is built.
//!
//! A write that fails keeps that second in memory: memory over loss.
//! Clones share the file (appends go to its shared end, so no clone
//! overwrites another's bytes) and have their own index.
//!
//! Must not: interpret the bytes (the caller packs and unpacks them).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::sync::{Arc, Mutex};

/// Packed seconds by seq.
#[derive(Clone, Debug, Default)]
pub(crate) struct Archive {
    /// The parts of each second, in the order added.
    index: BTreeMap<u64, Vec<Loc>>,
    /// The spill file, when there is one.
    spill: Option<Arc<Mutex<Spill>>>,
}

/// Where one packed second is.
#[derive(Clone, Debug)]
enum Loc {
    /// In memory (no spill file, or its write failed).
    Memory(Vec<u8>),
    /// At (offset, length) in the spill file.
    File(u64, usize),
}

#[derive(Debug)]
struct Spill {
    file: File,
    /// Bytes written so far (the next write's offset).
    end: u64,
}

impl Archive {
    /// Moves every part held in memory to `file` (which should be empty
    /// and is used from offset 0); later ones go there too.
    pub(crate) fn spill_to(&mut self, file: File) {
        let spill = Arc::new(Mutex::new(Spill { file, end: 0 }));
        for parts in self.index.values_mut() {
            for loc in parts.iter_mut() {
                if let Loc::Memory(bytes) = loc {
                    if let Some(offset) = write(&spill, bytes) {
                        *loc = Loc::File(offset, bytes.len());
                    }
                }
            }
        }
        self.spill = Some(spill);
    }

    /// Whether `seq` is archived.
    pub(crate) fn contains(&self, seq: u64) -> bool {
        self.index.contains_key(&seq)
    }

    /// Seconds archived.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Archives `seq` as one part (replacing any it had).
    pub(crate) fn put(&mut self, seq: u64, bytes: Vec<u8>) {
        let loc = self.store(bytes);
        self.index.insert(seq, vec![loc]);
    }

    /// Adds a part to `seq` (archiving it if it was not).
    pub(crate) fn add_part(&mut self, seq: u64, bytes: Vec<u8>) {
        let loc = self.store(bytes);
        self.index.entry(seq).or_default().push(loc);
    }

    fn store(&self, bytes: Vec<u8>) -> Loc {
        match &self.spill {
            Some(spill) => match write(spill, &bytes) {
                Some(offset) => Loc::File(offset, bytes.len()),
                None => Loc::Memory(bytes),
            },
            None => Loc::Memory(bytes),
        }
    }

    /// The parts of `seq`, in the order added (None when absent; a part
    /// that cannot be read back is left out).
    pub(crate) fn get(&self, seq: u64) -> Option<Vec<Vec<u8>>> {
        let parts = self.index.get(&seq)?;
        Some(
            parts
                .iter()
                .filter_map(|loc| match loc {
                    Loc::Memory(bytes) => Some(bytes.clone()),
                    Loc::File(offset, len) => read(self.spill.as_ref()?, *offset, *len),
                })
                .collect(),
        )
    }

    /// The archived seqs, ascending.
    pub(crate) fn seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.index.keys().copied()
    }
}

/// Appends `bytes` to the spill file; their offset, or None on an error.
fn write(spill: &Mutex<Spill>, bytes: &[u8]) -> Option<u64> {
    let mut s = spill.lock().ok()?;
    let offset = s.end;
    s.file.seek(SeekFrom::Start(offset)).ok()?;
    s.file.write_all(bytes).ok()?;
    s.end = offset + bytes.len() as u64;
    Some(offset)
}

fn read(spill: &Mutex<Spill>, offset: u64, len: usize) -> Option<Vec<u8>> {
    let mut s = spill.lock().ok()?;
    s.file.seek(SeekFrom::Start(offset)).ok()?;
    let mut out = vec![0; len];
    s.file.read_exact(&mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_then_file_then_clones_that_do_not_overwrite_each_other() {
        let mut a = Archive::default();
        a.put(1, b"one".to_vec());
        a.put(2, b"two".to_vec());
        a.spill_to(tempfile::tempfile().unwrap());
        assert!(a
            .index
            .values()
            .flatten()
            .all(|l| matches!(l, Loc::File(..))));
        a.put(3, b"three".to_vec());
        a.put(2, b"TWO!".to_vec());
        a.add_part(2, b"late".to_vec());
        let mut b = a.clone();
        b.put(4, b"b-four".to_vec());
        a.put(4, b"a-four".to_vec());
        let one = |x: &Archive, seq| x.get(seq).map(|p| p.concat());
        assert_eq!(one(&a, 1).as_deref(), Some(&b"one"[..]));
        assert_eq!(a.get(2), Some(vec![b"TWO!".to_vec(), b"late".to_vec()]));
        assert_eq!(one(&a, 4).as_deref(), Some(&b"a-four"[..]));
        assert_eq!(one(&b, 4).as_deref(), Some(&b"b-four"[..]));
        assert_eq!(one(&b, 3).as_deref(), Some(&b"three"[..]));
        assert_eq!(a.seqs().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!((a.len(), a.contains(3), a.contains(5)), (4, true, false));
        assert_eq!(a.get(5), None);
    }

    #[test]
    fn a_failed_write_keeps_the_second_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro");
        std::fs::write(&path, b"").unwrap();
        // Opened read-only: every write fails.
        let mut a = Archive::default();
        a.spill_to(File::open(&path).unwrap());
        a.put(7, b"seven".to_vec());
        assert!(matches!(a.index[&7][..], [Loc::Memory(_)]));
        assert_eq!(a.get(7), Some(vec![b"seven".to_vec()]));
    }
}
