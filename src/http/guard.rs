//! What every response and every state-changing request goes through: cross-site requests
//! refused, and the headers that keep the app from being framed, sniffed or cached.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::AppError;

/// Refuses a state-changing request that a browser sent from another site. The session
/// cookie is `SameSite=Strict`, but that alone is one setting away from a forged POST; a
/// browser says where a request comes from (`Sec-Fetch-Site`, else `Origin`), and only the
/// app's own pages may change anything. Requests without either header are not from a
/// browser page (a recorder with its bearer token, the command line), which cannot carry
/// someone's session by accident.
pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes && is_cross_site(request.headers(), state.config.public_host.as_deref()) {
        return AppError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "requests that change data must come from callgrade's own pages",
        )
        .into_response();
    }
    next.run(request).await
}

/// `public_host`: the app's own `host[:port]` when configured (behind a proxy the request's
/// `Host` may be the proxy's view of it); else the request's `Host`.
fn is_cross_site(headers: &HeaderMap, public_host: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // "none": typed or bookmarked by the user; "same-origin": our own pages.
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = public_host.or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()));
    match (origin.to_str().ok().and_then(origin_host), host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        // "null" (a sandboxed frame, a file) or no Host to compare with.
        _ => true,
    }
}

/// `host[:port]` of an origin such as `https://qa.example.com:8443`.
fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

/// The app's scripts and styles are its own files (no inline script), nothing frames it,
/// and API answers, which hold personal data, are not kept in caches unless the route says
/// otherwise (waveform peaks and call analysis are privately cacheable by their ETag).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn headers(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if api && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_the_apps_own_pages_may_change_data() {
        assert!(
            !is_cross_site(&with(&[]), None),
            "no browser: not a forged request"
        );
        assert!(!is_cross_site(
            &with(&[("sec-fetch-site", "same-origin")]),
            None
        ));
        assert!(is_cross_site(
            &with(&[("sec-fetch-site", "cross-site")]),
            None
        ));
        assert!(is_cross_site(
            &with(&[("sec-fetch-site", "same-site")]),
            None
        ));
        let own = [
            ("origin", "http://qa.example:8080"),
            ("host", "qa.example:8080"),
        ];
        assert!(!is_cross_site(&with(&own), None));
        let other = [
            ("origin", "https://evil.example"),
            ("host", "qa.example:8080"),
        ];
        assert!(is_cross_site(&with(&other), None));
        assert!(is_cross_site(
            &with(&[("origin", "null"), ("host", "qa.example")]),
            None
        ));
        // Behind a proxy the configured public address is the app's origin.
        let proxied = [
            ("origin", "https://qa.example.com"),
            ("host", "10.0.0.5:8080"),
        ];
        assert!(!is_cross_site(&with(&proxied), Some("qa.example.com")));
        assert!(is_cross_site(&with(&proxied), None));
        assert_eq!(origin_host("https://a.example:1/x"), None);
        assert_eq!(origin_host("http://A.example"), Some("A.example"));
    }
}
