//! `--images send=url`: the run's distinct images served on 127.0.0.1 (a free port, for the
//! process's life) at `/images/N`, and every message's images replaced by their address, so the
//! endpoint fetches each image as it would from a user's storage and the request bodies stay
//! small. `workload.rs` calls [`serve`] once the images are made.

use crate::dataset::{Conversation, Image};
use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::collections::HashMap;
use std::sync::Arc;

/// Serves `pool` and points `conversations`' images at it; returns the address.
pub fn serve(conversations: &mut [Conversation], pool: &[Arc<Image>]) -> Result<String> {
    let files: Vec<(&'static str, Bytes)> = pool
        .iter()
        .map(|i| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(i.base64.as_bytes())
                .unwrap_or_default();
            (i.media_type, Bytes::from(raw))
        })
        .collect();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("--images send=url: cannot listen on 127.0.0.1")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let app = axum::Router::new()
        .route("/images/{n}", axum::routing::get(file))
        .with_state(Arc::new(files));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/images");
    let index: HashMap<*const Image, usize> = pool
        .iter()
        .enumerate()
        .map(|(n, i)| (Arc::as_ptr(i), n))
        .collect();
    let served: Vec<Arc<Image>> = pool
        .iter()
        .enumerate()
        .map(|(n, i)| {
            Arc::new(Image {
                url: Some(format!("{base}/{n}").into()),
                base64: "".into(),
                ..(**i).clone()
            })
        })
        .collect();
    for m in conversations.iter_mut().flat_map(|c| c.messages.iter_mut()) {
        for image in m.images.iter_mut() {
            if let Some(&n) = index.get(&Arc::as_ptr(image)) {
                *image = served[n].clone();
            }
        }
    }
    Ok(base)
}

async fn file(
    State(files): State<Arc<Vec<(&'static str, Bytes)>>>,
    Path(n): Path<usize>,
) -> Response {
    match files.get(n) {
        Some((media_type, bytes)) => {
            ([(header::CONTENT_TYPE, *media_type)], bytes.clone()).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
