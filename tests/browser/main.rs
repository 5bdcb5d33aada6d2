//! The HTML reports opened in headless Chromium, in a test binary of their own: a browser is
//! heavy, and the integration tests in `tests/it/` time their levels, so the two never run at
//! the same time (cargo runs test binaries one after another).

#[path = "../it/common.rs"]
mod common;
mod pages;
