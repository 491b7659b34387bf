//! HTML building blocks: the escaping helper every string goes through, the page shell (one inline
//! stylesheet, no external fonts, scripts or CDNs) and small formatting helpers.
//!
//! Pages are built with `write!` into a `String`. Every piece of text that did not come from this
//! file is written through [`esc`], which escapes `& < > " '` and so is safe in text and in quoted
//! attribute values alike.

use std::fmt::{self, Write as _};

use super::i18n::{Lang, Msg};

/// `Cache-Control` of the live results (the pages and `/api/v1/results/{level}/{id}`): public, fresh
/// for one second and then served stale for up to five more while a cache revalidates it in the
/// background, so a CDN in front asks the server for each page about once a second however many
/// readers it has, and a reader sees results at most a few seconds old. Revalidation is cheap:
/// every answer has a strong `ETag` and is answered `304` to a matching `If-None-Match`.
pub const LIVE_CACHE: &str = "public, max-age=1, stale-while-revalidate=5";

/// Text escaped for HTML (element content and double- or single-quoted attribute values).
pub struct Esc<'a>(pub &'a str);

/// Escapes `text` when displayed.
pub fn esc(text: &str) -> Esc<'_> {
    Esc(text)
}

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// The stylesheet, inlined into every page: calm, legible, readable on a phone, good contrast.
pub const CSS: &str = include_str!("site.css");

/// What the shell around a page body needs to know.
pub struct Shell<'a> {
    pub lang: Lang,
    /// The `<title>` and the page's `<h1>`.
    pub title: &'a str,
    /// The election's name, shown in the header.
    pub election: &'a str,
    /// The page's own path and query without `lang`, for the language switch (e.g. `/region/north?view=official`).
    pub path: &'a str,
    /// Breadcrumbs above the title: (label, href).
    pub crumbs: &'a [(String, String)],
    /// The checkpoint size this page was computed from, for the live-update script.
    pub checkpoint_size: u64,
}

/// Wraps `body` into a complete HTML document.
pub fn page(shell: &Shell<'_>, body: &str) -> String {
    let lang = shell.lang;
    // "Page · Election", or just the election's name on the page that is named after it.
    let full_title = if shell.title == shell.election {
        esc(shell.title).to_string()
    } else {
        format!("{} · {}", esc(shell.title), esc(shell.election))
    };
    let mut out = String::with_capacity(body.len() + CSS.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{full_title}</title><style>{CSS}</style></head>\
         <body data-checkpoint=\"{size}\"><header class=\"top\"><a class=\"brand\" href=\"/?lang={code}\">{election}</a>\
         <nav class=\"langs\" aria-label=\"{langs_label}\">",
        code = lang.code(),
        election = esc(shell.election),
        size = shell.checkpoint_size,
        langs_label = esc(lang.t(Msg::Language)),
    );
    for other in Lang::ALL {
        let sep = if shell.path.contains('?') { '&' } else { '?' };
        if other == lang {
            let _ = write!(out, "<strong>{}</strong>", other.label());
        } else {
            let _ = write!(
                out,
                "<a href=\"{}{sep}lang={}\" hreflang=\"{}\" lang=\"{}\">{}</a>",
                esc(shell.path),
                other.code(),
                other.code(),
                other.code(),
                other.label()
            );
        }
    }
    out.push_str("</nav></header><main>");
    if !shell.crumbs.is_empty() {
        let _ =
            write!(out, "<nav class=\"crumbs\" aria-label=\"{}\">", esc(lang.t(Msg::Breadcrumbs)));
        for (i, (label, href)) in shell.crumbs.iter().enumerate() {
            if i > 0 {
                out.push_str(" › ");
            }
            let _ = write!(out, "<a href=\"{}\">{}</a>", esc(href), esc(label));
        }
        out.push_str("</nav>");
    }
    let _ = write!(out, "<h1>{}</h1>", esc(shell.title));
    out.push_str(body);
    let _ = write!(
        out,
        "<p id=\"live\" class=\"live\" hidden><a href=\"\">{}</a></p></main>\
         <footer><p>{}</p></footer><script>{}</script></body></html>",
        esc(lang.t(Msg::NewResults)),
        esc(lang.t(Msg::Footer)),
        LIVE_SCRIPT
    );
    out
}

/// The optional live-update script: listens to `/api/v1/events` and, when a newer checkpoint is
/// announced, shows a reload link. The page is complete without it.
pub const LIVE_SCRIPT: &str = "(function(){if(!window.EventSource)return;var b=document.body,\
c=+b.dataset.checkpoint,e=new EventSource('/api/v1/events');e.addEventListener('checkpoint',\
function(m){try{var d=JSON.parse(m.data);if(d.size>c){document.getElementById('live').hidden=false;}}\
catch(x){}});})();";

/// `href` with `lang` (and optional extra query) appended.
pub fn link(href: &str, lang: Lang) -> String {
    let sep = if href.contains('?') { '&' } else { '?' };
    format!("{href}{sep}lang={}", lang.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>").to_string(),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("Жогорку Кеңеш").to_string(), "Жогорку Кеңеш");
    }
}
