//! Which operation a request is: by the resource template API Gateway REST matched (with its
//! path parameters), else by the path (a `{proxy+}` resource, a function URL, `cargo lambda
//! watch`).

use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Orders,
    Order(String),
    Cancel(String),
    Product(String),
}

impl Route {
    pub(super) fn allowed(&self) -> &'static [Method] {
        match self {
            Route::Orders => &[Method::POST, Method::GET],
            Route::Cancel(_) => &[Method::POST],
            Route::Order(_) => &[Method::GET],
            Route::Product(_) => &[Method::GET, Method::PUT, Method::PATCH],
        }
    }
}

/// Routes on the resource template (`/orders/{id}`) with its path parameters when API
/// Gateway REST gives one of ours, else on the path (a `{proxy+}` resource, a function URL,
/// `cargo lambda watch`). The path is API Gateway's, without the stage.
pub(super) fn route(req: &Request) -> Option<Route> {
    if let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() {
        let param = |name: &str| {
            req.path_parameters_ref()
                .and_then(|p| p.first(name))
                .map(str::to_string)
        };
        let templated = match ctx.resource_path.as_deref() {
            Some("/orders") => Some(Route::Orders),
            Some("/orders/{id}") => param("id").map(Route::Order),
            Some("/orders/{id}/cancel") => param("id").map(Route::Cancel),
            Some("/products/{sku}") => param("sku").map(Route::Product),
            _ => None,
        };
        if templated.is_some() {
            return templated;
        }
    }
    let segments: Vec<&str> = req.raw_http_path().trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["orders"] => Some(Route::Orders),
        ["orders", id] if !id.is_empty() => Some(Route::Order((*id).to_string())),
        ["orders", id, "cancel"] if !id.is_empty() => Some(Route::Cancel((*id).to_string())),
        ["products", sku] if !sku.is_empty() => Some(Route::Product((*sku).to_string())),
        _ => None,
    }
}
