//! One module per subcommand: each has an `Args` (clap) and a `main(args)`
//! that returns the process exit code.

pub mod target;
