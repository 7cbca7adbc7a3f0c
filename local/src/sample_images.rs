//! The images the sample data points at, served by the gateway from a path of its own so that a
//! local run's event cards and banners render. Small PNGs kept in the repository and compiled in.

use axum::{
    Router,
    extract::Path,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};

/// Where they are served: `{PREFIX}/{kind}/{name}.png`, as `seed` writes their URLs.
pub const PREFIX: &str = "/sample-images";

const IMAGES: &[(&str, &[u8])] = &[
    ("banners/winter-hackathon.png", include_bytes!("../sample-images/banners/winter-hackathon.png")),
    ("events/winter-hackathon.png", include_bytes!("../sample-images/events/winter-hackathon.png")),
    ("events/rust-serverless.png", include_bytes!("../sample-images/events/rust-serverless.png")),
    ("events/open-data.png", include_bytes!("../sample-images/events/open-data.png")),
    ("events/frontend-bootcamp.png", include_bytes!("../sample-images/events/frontend-bootcamp.png")),
];

/// The URL `seed` stores for one of them.
pub fn url(name: &str) -> String {
    debug_assert!(IMAGES.iter().any(|(known, _)| *known == name), "{name} is not a sample image");
    format!("{PREFIX}/{name}")
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(&format!("{PREFIX}/{{*name}}"), get(image))
}

async fn image(Path(name): Path<String>) -> Response {
    match IMAGES.iter().find(|(known, _)| *known == name) {
        Some((_, bytes)) => {
            ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "public, max-age=3600")], *bytes)
                .into_response()
        }
        None => shared::error::AppError::RouteNotFound.into_response(),
    }
}
