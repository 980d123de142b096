//! The search page: one HTML file with its CSS and JS inline, compiled into the binary (no
//! build step). It talks to the service only through the public endpoints.

/// The page served at `/`.
pub const HTML: &str = include_str!("page/index.html");
