//! The dashboard's own CSS, JavaScript and icon, compiled into the binary so `resque-web`
//! is one self-contained file. Served at Ruby's paths beside the pages.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::Web;

const STYLE: &str = include_str!("../web-assets/static/style.css");
const SCRIPT: &str = include_str!("../web-assets/static/main.js");
const ICON: &str = include_str!("../web-assets/static/favicon.svg");

/// Links carry `?v=<version>`, so a day of caching is safe across upgrades.
const CACHE: &str = "public, max-age=86400";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, CACHE),
        ],
        body,
    )
}

/// Adds the asset routes.
pub(crate) fn routes(r: Router<Web>) -> Router<Web> {
    r.route(
        "/style.css",
        get(|| async { asset("text/css; charset=utf-8", STYLE) }),
    )
    .route(
        "/main.js",
        get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
    )
    .route(
        "/favicon.svg",
        get(|| async { asset("image/svg+xml", ICON) }),
    )
    .route(
        "/favicon.ico",
        get(|| async { asset("image/svg+xml", ICON) }),
    )
}
