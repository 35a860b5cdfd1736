//! Serves the simulated VictoriaLogs with default knobs on the address given
//! as the first argument (default 127.0.0.1:9428), using the library API
//! directly. `vlbench target` is the full command; this example shows the
//! embedding API (`start` + `TargetHandle`) and works without the binary.
//!
//! `cargo run --release -p vlbench-target --example serve -- 127.0.0.1:9428`

use vlbench_target::{start, TargetConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9428".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let target = start(TargetConfig::default(), listener).await?;
    eprintln!("serving on http://{}; Ctrl-C stops", target.addr());
    tokio::signal::ctrl_c().await?;
    let served = target.counters().snapshot().total_requests();
    target.shutdown().await?;
    eprintln!("served {served} select requests");
    Ok(())
}
