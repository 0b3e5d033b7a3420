//! The HTTP server's life: bound at once (a bad address is the caller's error, said once),
//! served on its own thread with its own tokio runtime, stopped gracefully and joined.

use crate::dispatch::Dispatcher;
use crate::service::CallbackService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::watch;

/// How long a stop waits for requests in flight before dropping their connections.
const GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A running server. [`HttpServer::stop`] (or drop) stops and joins it.
pub struct HttpServer {
    addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `addr` and serves the API and the agent panel for `service` until stopped
    /// (`dispatcher`: the module's, for `/metrics`, the agents' states and Call Now).
    pub fn start(
        service: Arc<CallbackService>,
        dispatcher: Option<Arc<Dispatcher>>,
        addr: SocketAddr,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            // Handlers run on the blocking pool (the store blocks); bounded, as SQLite
            // takes one writer at a time anyway.
            .max_blocking_threads(16)
            .thread_name("callback-http")
            .enable_io()
            .enable_time()
            .build()?;
        let (tx, rx) = watch::channel(false);
        // The panel's routes beside the API's (the API's fallback answers the rest).
        let app = super::router(service.clone(), dispatcher.clone()).merge(crate::panel::router(
            service,
            dispatcher,
            rx.clone(),
        ));
        let thread = std::thread::Builder::new()
            .name("callback-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("http: cannot serve on {addr}: {e}");
                            return;
                        }
                    };
                    let mut graceful = rx.clone();
                    let served = axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .with_graceful_shutdown(async move {
                        let _ = graceful.wait_for(|stop| *stop).await;
                    });
                    // A client that never finishes its request (slowloris) must not hold
                    // the module's unload: after the grace period the rest is dropped.
                    let mut deadline = rx;
                    tokio::select! {
                        r = served => {
                            if let Err(e) = r {
                                tracing::error!("http: server on {addr} stopped: {e}");
                            }
                        }
                        _ = async {
                            let _ = deadline.wait_for(|stop| *stop).await;
                            tokio::time::sleep(GRACE).await;
                        } => {
                            tracing::warn!(
                                "http: connections still open {} s after stop were dropped",
                                GRACE.as_secs()
                            );
                        }
                    }
                });
                // Connection tasks left are dropped; a handler still running on the blocking
                // pool is waited for (bounded), so none outlives the module's unload.
                runtime.shutdown_timeout(GRACE);
            })?;
        tracing::info!("http: REST API listening on {addr}");
        tracing::info!("http: agent panel at http://{addr}/panel/");
        Ok(Self {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address bound (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish, and joins the server's thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("http: the server thread panicked");
            }
            tracing::info!("http: REST API on {} stopped", self.addr);
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.halt();
    }
}
