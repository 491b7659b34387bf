//! The workspace's page shell: the results site's stylesheet plus the workspace's own, a header
//! naming who is signed in with a sign-out button, the language switch, and no caching (these
//! pages are personal and change with every action).

use std::fmt::Write as _;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::text::{t, T};
use crate::auth::Session;
use crate::site::html::{esc, CSS};
use crate::site::i18n::Lang;

/// The workspace's stylesheet, after the site's: large, clear inputs; states as coloured labels
/// that also say their name; the projector's large type.
pub const WORKSPACE_CSS: &str = "\
main.ws{max-width:72rem}\
.who{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap}\
.who form{margin:0}.who button{font:inherit;font-size:.9rem;padding:.15rem .6rem;border:1px solid #fff;background:transparent;color:#fff;border-radius:4px;cursor:pointer}\
nav.ws{display:flex;gap:1rem;flex-wrap:wrap;margin:0 0 1rem}\
section.login{max-width:24rem}\
section.login input{width:100%;font:inherit;padding:.45rem;border:1px solid var(--muted);border-radius:4px}\
button,input[type=submit]{font:inherit;padding:.4rem .9rem;border:0;border-radius:4px;background:var(--accent);color:#fff;cursor:pointer}\
button.secondary{background:#e7e9ee;color:var(--ink)}\
button:focus-visible,input:focus-visible,a:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #f0a500;outline-offset:1px}\
.error{background:var(--badbg);color:var(--bad);padding:.5rem .75rem;border-radius:6px}\
.ok{background:#e6f4ea;color:#1c6b35;padding:.5rem .75rem;border-radius:6px}\
table.form td.in{width:9rem}\
table.form input{width:8.5rem;font:inherit;font-size:1.15rem;padding:.3rem .4rem;text-align:right;font-variant-numeric:tabular-nums;border:1px solid var(--muted);border-radius:4px}\
table.form input[aria-invalid=true]{border:2px solid var(--bad);background:var(--badbg)}\
table.form .no{color:var(--muted);width:2.5rem}\
ul.findings{margin:.25rem 0;padding-left:1.2rem}\
ul.findings li.e{color:var(--bad)}ul.findings li.w{color:var(--warn)}\
textarea{width:100%;font:inherit;min-height:2.5rem}\
.st{display:inline-block;padding:0 .45rem;border-radius:4px;font-size:.85rem;white-space:nowrap}\
.st-not_started{background:#e7e9ee}.st-first_entry,.st-second_entry{background:#e3ecfa;color:#1d4f91}\
.st-differences{background:var(--badbg);color:var(--bad)}.st-accepted{background:#e6f4ea;color:#1c6b35}\
.st-corrected{background:var(--warnbg);color:var(--warn)}\
td form{display:inline;margin:0}\
.projector{font-size:2rem}\
.projector h1{font-size:3rem}\
.projector .bar{height:3rem;background:#e7e9ee;border-radius:8px;overflow:hidden;display:flex}\
.projector .bar span{display:block;height:100%}\
.projector dl{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem}\
.projector dd{font-size:4rem;font-weight:700;margin:0;font-variant-numeric:tabular-nums}\
.projector dt{font-size:1.5rem}\
.entry-grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1.5rem;align-items:start}\
aside.scan{position:sticky;top:1rem;border:1px solid #d5d9e0;border-radius:8px;padding:.75rem;background:#fafbfc}\
aside.scan h2{margin-top:0}\
aside.scan img{display:block;max-width:100%;height:auto;border:1px solid #d5d9e0}\
aside.scan iframe{width:100%;height:75vh;border:1px solid #d5d9e0}\
aside.scan input[type=file]{max-width:100%}\
@media (max-width:60rem){.entry-grid{grid-template-columns:1fr}aside.scan{position:static}}\
a.act{display:inline-block;margin:0 .4rem .2rem 0;white-space:nowrap}\
form.release{display:inline}form.release button{font-size:.8rem;padding:.1rem .5rem}\
.badge{display:inline-block;padding:0 .45rem;border-radius:4px;font-size:.85rem;background:var(--warnbg);color:var(--warn)}\
blockquote{margin:.5rem 0;padding:.5rem .75rem;border-left:4px solid #d5d9e0;background:#fafbfc}\
table.versions td.diff{background:var(--warnbg);font-weight:600}\
";

/// A complete workspace page.
pub fn page(lang: Lang, session: Option<&Session>, title: &str, path: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + CSS.len() + WORKSPACE_CSS.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\">\
         <title>{title} · {ws}</title><style>{CSS}{WORKSPACE_CSS}</style></head>\
         <body><header class=\"top\"><a class=\"brand\" href=\"/workspace?lang={code}\">{ws}</a>\
         <div class=\"who\">",
        code = lang.code(),
        title = esc(title),
        ws = esc(t(lang, T::Workspace)),
    );
    if let Some(session) = session {
        let _ = write!(
            out,
            "<span>{} <strong data-account=\"{account}\">{account}</strong> ({role})</span>\
             <form method=\"post\" action=\"/logout?lang={code}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\">{signout}</button></form>",
            esc(t(lang, T::SignedInAs)),
            account = esc(&session.account),
            role = esc(&super::text::role_label(lang, &session.role)),
            code = lang.code(),
            csrf = esc(&session.csrf),
            signout = esc(t(lang, T::SignOut)),
        );
    }
    out.push_str("<nav class=\"langs\">");
    for other in Lang::ALL {
        if other == lang {
            let _ = write!(out, "<strong>{}</strong>", other.label());
        } else {
            let sep = if path.contains('?') { '&' } else { '?' };
            let _ = write!(
                out,
                "<a href=\"{}{sep}lang={}\" hreflang=\"{}\" lang=\"{}\">{}</a>",
                esc(path),
                other.code(),
                other.code(),
                other.code(),
                other.label()
            );
        }
    }
    let _ = write!(out, "</nav></div></header><main class=\"ws\"><h1>{}</h1>", esc(title));
    out.push_str(body);
    out.push_str("</main></body></html>");
    out
}

/// The workspace's Content-Security-Policy: scripts only from this origin (`/workspace/entry.js`),
/// no inline script, forms posted only here, no framing by anyone; images and frames (a PDF
/// scan beside the form) only from this origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
                       img-src 'self'; frame-src 'self'; connect-src 'self'; form-action 'self'; \
                       base-uri 'none'; frame-ancestors 'none'";

/// An HTML response that no cache keeps and no other site frames.
pub fn respond(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        ],
        html,
    )
        .into_response()
}
