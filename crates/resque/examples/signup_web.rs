//! The signup application's web side: an axum server whose `POST /signup` enqueues
//! `SendWelcome` with a struct argument, and the resque-web dashboard mounted beside it
//! at `/resque` (facade feature `web`).
//!
//! ```text
//! cargo run -p resque --features web --example signup_web -- [REDIS] [ADDR]
//! curl -X POST localhost:3000/signup -H 'content-type: application/json' \
//!      -d '{"user_id":7,"email":"ada@example.com"}'
//! ```
//! Then run `signup_worker` to send the mail. The unit tests (in `signup/app.rs`) run the
//! handler and the job in inline mode, with no Redis.

#[path = "signup/app.rs"]
mod app;

// The application's own tokio (an axum server has one); `resque::tokio` would do too.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut argv = std::env::args().skip(1);
    let redis = argv.next().unwrap_or_else(|| "localhost:6379".to_owned());
    let addr = argv.next().unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let client = resque::Client::builder(&redis)
        .namespace("signup")
        .connect()
        .await?;
    let router = app::web::router(client);
    #[cfg(feature = "web")]
    let router = router.nest(
        "/resque",
        resque::web::router(resque::web::Config::new(&redis).namespace("signup")),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}");
    axum::serve(listener, router).await?;
    Ok(())
}
