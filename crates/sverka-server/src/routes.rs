//! The router, built from a route table: every route is added through [`Routes`], which records
//! its method and path, so a test can compare the router with `openapi.json` both ways.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::problem::Problem;
use crate::{api, publication, site, AppState};

/// A router under construction and the table of what it routes.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn new() -> Routes {
        Routes { router: Router::new(), table: Vec::new() }
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        route: MethodRouter<AppState>,
    ) -> Routes {
        self.table.push((method, path));
        self.router = self.router.route(path, route);
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add("GET", path, get(handler))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add("POST", path, post(handler))
    }

    fn merge(mut self, other: Routes) -> Routes {
        self.table.extend(other.table);
        self.router = self.router.merge(other.router);
        self
    }
}

/// Every route: the API under a request timeout, and the event stream without one.
fn routes(timeout: Duration) -> Routes {
    let timed = Routes::new()
        .post("/api/v1/submissions", api::submit)
        .post("/api/v1/submissions/batch", api::submit_batch)
        .get("/api/v1/receipts/{leaf_hash}", api::receipt)
        .get("/api/v1/quarantine", api::quarantine)
        .get("/api/v1/results", api::results)
        .get("/api/v1/reconciliation", crate::reconcile_api::reconciliation)
        .get("/api/v1/results/region/{id}", crate::read_api::region)
        .get("/api/v1/results/district/{id}", crate::read_api::district)
        .get("/api/v1/results/station/{id}", crate::read_api::station)
        .get("/api/v1/openapi.json", api::openapi)
        .get("/checkpoint", crate::witnessing::checkpoint)
        .get("/witnessed.svg", crate::witnessing::badge)
        .get("/tile/{*path}", publication::tile)
        .get("/log.vkey", publication::log_vkey)
        .get("/snapshot/{file}", publication::snapshot)
        .get("/blob/{sha256}", publication::blob)
        .get("/", site::national)
        .get("/region/{id}", site::region)
        .get("/district/{id}", site::district)
        .get("/station/{id}", site::station)
        .get("/reconciliation", site::reconcile::nation)
        .get("/reconciliation/{district}", site::reconcile::district)
        .get("/audit", site::audit::page)
        .get("/forensics", site::forensics::page)
        .get("/find", site::find)
        .get("/login", crate::auth::pages::login_form)
        .post("/login", crate::auth::pages::login)
        .post("/logout", crate::auth::pages::logout)
        .get("/workspace", crate::workspace::index)
        .get("/workspace/district/{district}", crate::workspace::pages::district)
        .get("/workspace/projector/{district}", crate::workspace::pages::projector)
        .get("/workspace/review", crate::workspace::pages::review)
        .get("/workspace/audit", crate::workspace::pages::audit)
        .post("/workspace/explain/{station}/{contest}", crate::workspace::pages::explain)
        .get("/workspace/entry/{station}/{contest}", crate::workspace::entry::form)
        .post("/workspace/entry/{station}/{contest}", crate::workspace::entry::finish)
        .post("/workspace/entry/{station}/{contest}/claim", crate::workspace::entry::claim)
        .get("/workspace/resolve/{station}/{contest}", crate::workspace::entry::resolve_form)
        .post("/workspace/resolve/{station}/{contest}", crate::workspace::entry::resolve)
        .get("/workspace/correct/{station}/{contest}", crate::workspace::entry::correct_form)
        .post("/workspace/correct/{station}/{contest}", crate::workspace::entry::correct)
        .post(
            "/workspace/correct/{station}/{contest}/claim",
            crate::workspace::entry::claim_correction,
        )
        .post("/workspace/entry/{station}/{contest}/release", crate::workspace::entry::release)
        .get("/workspace/station/{id}", crate::workspace::station::page)
        .get(
            "/workspace/request/{kind}/{station}/{contest}",
            crate::workspace::requests::request_form,
        )
        .post("/workspace/request/{kind}/{station}/{contest}", crate::workspace::requests::request)
        .get("/workspace/cec/{id}", crate::workspace::requests::act_form)
        .post("/workspace/cec/{id}", crate::workspace::requests::act)
        .get("/workspace/scan/{sha256}", crate::workspace::scan::serve)
        .add(
            "POST",
            "/workspace/scan/{station}/{contest}",
            post(crate::workspace::scan::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::workspace::scan::MAX_UPLOAD_BODY,
            )),
        )
        .get("/workspace/entry.js", crate::workspace::entry::script)
        .get("/changes", site::changes)
        .get("/changes.atom", site::changes_atom)
        .get("/changes.json", site::changes_json)
        .get("/healthz", api::health)
        .get("/readyz", crate::ops::ready)
        .get("/metrics", crate::ops::metrics);
    let timed = Routes {
        router: timed.router.layer(middleware::from_fn_with_state(timeout, request_timeout)),
        table: timed.table,
    };
    timed.merge(Routes::new().get("/api/v1/events", api::events))
}

/// The `(method, path)` of every route, in axum's path syntax.
pub fn table() -> Vec<(&'static str, &'static str)> {
    routes(Duration::from_secs(1)).table
}

/// The application's router.
pub fn router(state: AppState) -> Router {
    let timeout = state.config().request_timeout;
    let observe = middleware::from_fn_with_state(state.clone(), crate::ops::observe);
    let rejections = middleware::from_fn(crate::problem::rejections_as_problems);
    routes(timeout).router.fallback(fallback).layer(rejections).layer(observe).with_state(state)
}

async fn fallback() -> Problem {
    Problem::not_found("no such route")
}

/// Answers `H002` when a request (reading its body included) takes longer than the limit. A
/// submission whose request timed out may still land; resubmitting the same bytes is safe.
async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::timeout(limit.as_secs()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// `/tile/{*path}` (axum) is `/tile/{path}` in OpenAPI.
    fn openapi_path(axum_path: &str) -> String {
        axum_path.replace("{*", "{")
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_every_documented_route_is_routed() {
        let document: serde_json::Value =
            serde_json::from_str(crate::api::OPENAPI_JSON).expect("openapi.json is JSON");
        assert_eq!(document["openapi"], "3.1.0");
        let documented: BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .expect("path item")
                    .keys()
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect();
        let routed: BTreeSet<(String, String)> = super::table()
            .into_iter()
            .map(|(method, path)| (method.to_string(), openapi_path(path)))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(undocumented.is_empty(), "routes missing from openapi.json: {undocumented:?}");
        assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");
    }

    #[test]
    fn every_reference_in_the_openapi_document_resolves() {
        let document: serde_json::Value =
            serde_json::from_str(crate::api::OPENAPI_JSON).expect("JSON");
        let mut stack = vec![&document];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(reference) = map.get("$ref").and_then(|r| r.as_str()) {
                        let pointer = reference.strip_prefix('#').expect("local reference");
                        assert!(
                            document.pointer(pointer).is_some(),
                            "{reference} does not resolve"
                        );
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
    }
}
