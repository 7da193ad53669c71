//! Application state, router assembly and the server loop.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::audio::DecodeLimits;
use crate::auth::LoginGate;
use crate::blobs::{BlobStore, LocalBlobs};
use crate::config::Config;
use crate::ingest::Ingestor;
use crate::store::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub ingestor: Arc<Ingestor>,
    pub logins: Arc<LoginGate>,
    pub rubrics: Arc<crate::grading::Rubrics>,
}

impl AppState {
    /// Opens storage (database with migrations, blob folder) for a configuration.
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let db = Db::open(config.database_url.as_deref(), &config.data_dir).await?;
        let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobs::open(&config.data_dir)?);
        let ingestor = Ingestor::new(
            db.clone(),
            blobs,
            DecodeLimits {
                max_seconds: config.max_decoded_secs,
            },
            config.short_call_ms,
            config.decode_workers,
            config.clock.clone(),
        );
        Ok(AppState {
            db,
            config: Arc::new(config),
            ingestor: Arc::new(ingestor),
            logins: Arc::new(LoginGate::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            rubrics: Arc::new(crate::grading::Rubrics::default()),
        })
    }
}

pub fn app(state: AppState) -> Router {
    crate::http::router(state)
        .layer(CatchPanicLayer::custom(|_| {
            crate::http::internal_error_response()
        }))
        .layer(TraceLayer::new_for_http())
}

/// How long in-flight requests may take to finish after a shutdown signal.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Serves on an already-bound listener until `shutdown` resolves, then stops accepting,
/// lets in-flight requests finish (up to [`DRAIN_DEADLINE`]) and closes the database pool.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = state.db.clone();
    let drawer = state.config.draw_interval.map(|every| {
        tokio::spawn(draw_periodically(
            state.db.clone(),
            state.config.clock.clone(),
            every,
        ))
    });
    let watcher = tokio::spawn(watch_deadlines(
        state.db.clone(),
        state.config.clone(),
        state.ingestor.blobs.clone(),
    ));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        shutdown.await;
        let _ = signalled_tx.send(());
        let _ = stop_tx.send(());
    });
    // The connection's address is the client's (unless a proxy header is configured): the
    // failed-login counters are kept per address.
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async {
        let _ = stop_rx.await;
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        res = &mut server => res?,
        _ = signalled_rx => {
            if tokio::time::timeout(DRAIN_DEADLINE, &mut server).await.is_err() {
                tracing::warn!("requests still running after the drain deadline; stopping anyway");
            }
        }
    }
    if let Some(drawer) = drawer {
        drawer.abort();
    }
    watcher.abort();
    db.close().await;
    Ok(())
}

/// The background draw: new calls join the open weeks' provisional picks, weeks past their
/// deadline freeze into graders' queues, finished plans settle. Failures are logged and
/// retried at the next tick (a draw is idempotent).
async fn draw_periodically(db: Db, clock: crate::clock::Clock, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::sampling::draw_all(&db, clock.now_ms()).await {
            Ok(n) if n > 0 => tracing::debug!(plans = n, "background draw done"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = format!("{e:#}"), "background draw failed"),
        }
    }
}

/// How often overdue appeals, missing acknowledgements, webhook events and score
/// computations still to do are looked at.
const DEADLINE_CHECK_EVERY: Duration = Duration::from_secs(30);

/// Tells the panel about overdue appeals and leads about missing acknowledgements, posts
/// queued webhook events and computes the months whose computation failed when their
/// change was made, and now and then sweeps stored bytes nothing refers to. Failures are
/// logged and retried at the next tick.
async fn watch_deadlines(db: Db, config: Arc<Config>, blobs: Arc<dyn BlobStore>) {
    let client = reqwest::Client::new();
    let mut swept_at: Option<tokio::time::Instant> = None;
    let mut tick = tokio::time::interval(DEADLINE_CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = config.clock.now_ms();
        if let Err(e) = crate::publication::check_deadlines(&db, &config, now).await {
            tracing::error!(error = format!("{e:#}"), "deadline check failed");
        }
        if let Err(e) = crate::publication::deliver_webhooks(&db, &config, &client).await {
            tracing::error!(error = format!("{e:#}"), "webhook delivery failed");
        }
        if let Err(e) = crate::store::login_failures::sweep(&db, now).await {
            tracing::error!(
                error = format!("{e:#}"),
                "sweeping old failed-login counters failed"
            );
        }
        crate::scoring::run_jobs_now(&db, &config.clock).await;
        if swept_at.is_none_or(|t| t.elapsed() >= crate::sweep::EVERY) {
            swept_at = Some(tokio::time::Instant::now());
            crate::sweep::sweep_logged(&db, blobs.clone()).await;
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
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
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received: draining");
}
