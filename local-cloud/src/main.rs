//! `local-cloud`: one local AWS endpoint for resetpw's tests and demo.
//!
//! Requests are routed by the service named in their SigV4 credential scope: the services this
//! emulator implements itself (Lex V2, Amazon Connect, Lambda's Invoke) are answered here, everything else is
//! forwarded unchanged to moto's server. Every call is recorded and can be inspected, and faults
//! can be injected, through the control API under `/_localcloud/`.

use clap::Parser;
use resetpw_local_cloud::server;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "local-cloud", version, about)]
struct Args {
    /// Address to listen on (loopback only by default).
    #[arg(long, env = "LOCAL_CLOUD_BIND", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Port of the single endpoint (0: any free port; the address is printed on stderr).
    #[arg(long, env = "LOCAL_CLOUD_PORT", default_value_t = 4566)]
    port: u16,
    /// Base URL of moto's server, where every request for a service not implemented here goes.
    #[arg(
        long,
        env = "LOCAL_CLOUD_MOTO_URL",
        default_value = "http://127.0.0.1:4567"
    )]
    moto_url: String,
    /// Delay of Lex V2's asynchronous status changes (Creating → Available, Building → Built),
    /// in milliseconds.
    #[arg(long, env = "LOCAL_CLOUD_LEX_DELAY_MS", default_value_t = 200)]
    lex_delay_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("local-cloud: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("local-cloud: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let addr = SocketAddr::new(args.bind, args.port);
    let state = server::State::new(args.moto_url.trim_end_matches('/').to_string())?;
    state
        .own
        .lex
        .set_delay(std::time::Duration::from_millis(args.lex_delay_ms));
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {addr}: {e} (is another local cloud running? set LOCAL_CLOUD_PORT)"
        )
    })?;
    // The bound address, so `--port 0` (any free port) tells its caller where it is.
    let addr = listener.local_addr()?;
    eprintln!(
        "local-cloud: listening on http://{addr}, forwarding to {}",
        args.moto_url
    );
    // Functions reach this local cloud at the address it really listens on.
    state.own.lambda.set_endpoint_url(format!("http://{addr}"));
    let result = axum::serve(listener, server::router(state.clone()))
        .with_graceful_shutdown(stopped())
        .await;
    // The functions' processes stop with the emulator.
    state.own.lambda.shutdown();
    result?;
    Ok(())
}

/// Ctrl-C or SIGTERM (what `scripts/local-cloud stop` sends).
async fn stopped() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
