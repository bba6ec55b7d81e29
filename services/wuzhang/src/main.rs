//! `wuzhang`: serve, migrate, token. See the crate docs of `wuzhang` (lib) for the parts.

use clap::Parser;
use std::process::ExitCode;
use wuzhang::cli::{Cli, Command, EvaluationCommand};

#[allow(clippy::print_stderr)] // the one place errors reach an operator before logging is up
fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wuzhang: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wuzhang: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.load_config()?;
    match &cli.command {
        Command::Serve(_) => {
            let _telemetry =
                wuzhang_telemetry::init(wuzhang_telemetry::TelemetryConfig::from_env("wuzhang"))?;
            let parts = wuzhang::app::build(&config).await?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
            let http = tokio::net::TcpListener::bind(config.http_listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.http_listen))?;
            // Tests and scripts read these lines to find ports chosen with `…:0`.
            println!("wuzhang: grpc listening on {}", listener.local_addr()?);
            println!("wuzhang: http listening on {}", http.local_addr()?);
            println!(
                "wuzhang: store {}",
                wuzhang_store::connect::redact(&config.database_url())
            );
            let listeners = wuzhang::server::Listeners {
                grpc: listener,
                http,
            };
            wuzhang::server::run(parts, listeners, shutdown_signal()).await
        }
        Command::Migrate => {
            wuzhang::app::open_store(&config).await?;
            println!(
                "wuzhang: migrations applied to {}",
                wuzhang_store::connect::redact(&config.database_url())
            );
            Ok(())
        }
        Command::Evaluation(EvaluationCommand::Rebuild) => {
            let store = wuzhang::app::open_store(&config).await?;
            let started = std::time::Instant::now();
            let folded = wuzhang_app::rollups::Rollups::new(store).rebuild().await?;
            println!(
                "wuzhang: evaluation rebuilt from {folded} events in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Token(cmd) => {
            println!("{}", wuzhang::cli::token(&config, cmd)?);
            Ok(())
        }
        Command::ImportAreas(args) => {
            println!("{}", wuzhang::cli::import_areas(&config, args).await?);
            Ok(())
        }
        Command::Generate(args) => {
            println!("{}", wuzhang::cli::generate(args)?);
            Ok(())
        }
        Command::ImportRoster(args) => {
            println!("{}", wuzhang::cli::import_roster(&config, args).await?);
            Ok(())
        }
        Command::ImportOrganizations(args) => {
            println!(
                "{}",
                wuzhang::cli::import_organizations(&config, args).await?
            );
            Ok(())
        }
    }
}

/// Completes on ctrl-c or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown requested");
}
