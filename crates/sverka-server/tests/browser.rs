//! The results site in a real browser: headless Chromium (Debian package `chromium`, installed by
//! `.ci/run`) driven from its command line. A server runs a small simulated night; every page
//! kind (national, region, district, station, what changed) is loaded in Kyrgyz, Russian and
//! English at desktop (1280 px) and phone (390 px) widths. The test reads what Chromium rendered
//! (`--dump-dom`), checks the numbers a person sees against the API, and measures the layout from
//! a harness page that frames the site page at the given width and reports, into its own DOM,
//! whether anything sticks out sideways (the page scrolls horizontally, or a chart is wider than
//! its box). A drill-down is clicked through over the DevTools protocol. Screenshots go to
//! `target/screenshots/` to be looked at.
//!
//! Without Chromium the test says it skipped; under `SVERKA_REQUIRE_SHARED=1` (CI) it fails.

#[path = "common/chromium.rs"]
mod chromium;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Browser {
    binary: PathBuf,
    profile: tempfile::TempDir,
}

impl Browser {
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new(&self.binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--hide-scrollbars",
                "--lang=en-US",
            ])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .args(args)
            .output()
            .expect("chromium runs");
        assert!(
            output.status.success(),
            "chromium {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 DOM")
    }

    /// The DOM after Chromium rendered `url`.
    fn dom(&self, url: &str) -> String {
        self.run(&["--dump-dom", url])
    }

    fn screenshot(&self, url: &str, width: u32, height: u32, path: &Path) {
        let size = format!("--window-size={width},{height}");
        let shot = format!("--screenshot={}", path.display());
        self.run(&[&size, &shot, url]);
        assert!(path.exists(), "screenshot {} written", path.display());
    }

    /// Loads `url` in a frame `width` px wide and returns the layout report the harness writes.
    fn layout(&self, harness: &Path, url: &str, width: u32) -> Value {
        let target = format!("file://{}?w={width}&u={}", harness.display(), encode(url));
        let dom = self.run(&[
            "--disable-web-security",
            "--allow-file-access-from-files",
            "--virtual-time-budget=3000",
            "--dump-dom",
            &target,
        ]);
        let start = dom.find("<pre id=\"report\">").expect("the harness wrote its report") + 17;
        let end = start + dom[start..].find("</pre>").expect("report end");
        let text =
            dom[start..end].replace("&quot;", "\"").replace("&gt;", ">").replace("&amp;", "&");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("report {text}: {e}"))
    }
}

fn encode(url: &str) -> String {
    url.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Fetches the page (web security is off for this run only) and frames its HTML at the asked
/// width, so the harness may measure it; once laid out, reports horizontal overflow of the
/// document and of every chart, table wrapper and section.
const HARNESS: &str = r#"<!doctype html><html><body><iframe id="f" style="border:0;height:2000px"></iframe>
<pre id="report">pending</pre><script>
var q = new URLSearchParams(location.search), f = document.getElementById('f');
f.style.width = q.get('w') + 'px';
f.onload = function () {
  var d = f.contentDocument, r = {width: d.documentElement.clientWidth,
    scroll: d.documentElement.scrollWidth, title: d.title, lang: d.documentElement.lang, wide: []};
  var main = d.querySelector('main').getBoundingClientRect();
  d.querySelectorAll('main svg, section, .scroll, .parties li, form').forEach(function (e) {
    var b = e.getBoundingClientRect();
    if (b.right > main.right + 0.5 || b.left < main.left - 0.5) {
      r.wide.push((e.className.baseVal !== undefined ? e.className.baseVal : e.className) + ' ' + e.tagName + ' ' + Math.round(b.left) + '..' + Math.round(b.right) + ' > ' + Math.round(main.right));
    }
  });
  document.getElementById('report').textContent = JSON.stringify(r);
};
fetch(q.get('u')).then(function (r) { return r.text(); }).then(function (t) { f.srcdoc = t; });
</script></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_kind_in_every_language_renders_in_chromium_without_overflow() {
    let Some(binary) = chromium::chromium_or_skip("browser test") else { return };
    let browser = Browser { binary, profile: tempfile::tempdir().unwrap() };
    let night = common::night(7, None);
    let server = common::start(&night.election_toml, common::test_config()).await;
    let client = reqwest::Client::new();
    let (first, second) = night.lines.split_at(night.lines.len() / 2);
    for half in [first, second] {
        let response = client
            .post(server.url("/api/v1/submissions/batch"))
            .body(half.join(&b'\n'))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        server.results_at_least(&client, server.store.tree_size().unwrap()).await;
    }
    let snapshot = server.results_at_least(&client, server.store.tree_size().unwrap()).await;
    let election =
        sverka_model::Election::from_toml("election.toml", &night.election_toml).unwrap();
    let region = &election.regions[0];
    let district = election.districts.iter().find(|d| d.region == region.id).unwrap();
    let station = election.stations.iter().find(|s| s.district == district.id).unwrap();

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let harness = shots.join("harness.html");
    std::fs::write(&harness, HARNESS).unwrap();

    let nation = &snapshot["contests"][0]["preliminary"]["levels"][0];
    let pages = [
        ("national", "/".to_string()),
        ("region", format!("/region/{}", region.id)),
        ("district", format!("/district/{}", district.id)),
        ("station", format!("/station/{}", station.id)),
        ("changes", "/changes".to_string()),
    ];
    for lang in ["ky", "ru", "en"] {
        for (kind, path) in &pages {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = server.url(&format!("{path}{sep}lang={lang}"));
            let dom = browser.dom(&url);
            assert!(dom.contains(&format!("<html lang=\"{lang}\"")), "{url}");
            let heading = match *kind {
                "national" => election.name.get(lang).to_string(),
                "region" => region.name.get(lang).to_string(),
                "district" => district.name.get(lang).to_string(),
                "station" => station.id.clone(),
                _ => ["Эмне өзгөрдү", "Что изменилось", "What changed"]
                    [["ky", "ru", "en"].iter().position(|l| *l == lang).unwrap()]
                .to_string(),
            };
            let h1 = dom.split("<h1>").nth(1).and_then(|rest| rest.split("</h1>").next());
            assert!(h1.is_some_and(|h| h.contains(&heading)), "{url}: h1 {h1:?} names {heading}");
            if *kind == "national" {
                let shown = |name: &str| {
                    let marker = format!("data-{name}=\"");
                    let at = dom.find(&marker).unwrap() + marker.len();
                    dom[at..at + dom[at..].find('"').unwrap()].to_string()
                };
                assert_eq!(shown("took-part"), nation["took_part"].to_string(), "{lang}");
                assert_eq!(shown("valid"), nation["valid"].to_string(), "{lang}");
                assert!(
                    dom.contains("<svg class=\"hemicycle\"")
                        || dom.contains("<svg class=\"share\"")
                );
                // Every party is named in text beside its bar, so the chart reads without colour.
                for option in nation["votes"].as_object().unwrap().keys() {
                    let row = dom.split(&format!("data-option=\"{option}\"")).nth(1).unwrap();
                    let row = &row[..row.find("</li>").unwrap()];
                    assert!(row.contains("class=\"pct\""), "{option}: a percentage in text");
                }
            }
            for width in [1280u32, 390] {
                let report = browser.layout(&harness, &url, width);
                assert_eq!(report["lang"], lang, "{url}");
                assert!(
                    report["scroll"].as_u64() <= report["width"].as_u64(),
                    "{url} at {width} px scrolls sideways: {report}"
                );
                assert!(
                    report["wide"].as_array().unwrap().is_empty(),
                    "{url} at {width} px: {report}"
                );
                let file = shots.join(format!("{kind}-{lang}-{width}.png"));
                browser.screenshot(&url, width, if width == 390 { 2400 } else { 1600 }, &file);
            }
        }
    }

    // A drill-down by clicking, as a person would: nation → region → district → station, each
    // link found on the page shown and clicked in the browser (DevTools protocol), each new page
    // checked by its heading.
    let mut tab = chromium::Tab::open(&browser.binary);
    tab.go(&server.url("/?lang=en"));
    tab.wait_for("location.pathname === '/'");
    for (prefix, heading) in [
        (format!("/region/{}?", region.id), region.name.get("en").to_string()),
        (format!("/district/{}?", district.id), district.name.get("en").to_string()),
        (format!("/station/{}?", station.id), station.id.clone()),
    ] {
        let before = tab.location();
        let clicked = tab.eval(&format!(
            "(function () {{ var a = document.querySelector('a[href^=\"{prefix}\"]'); \
             if (!a) return false; a.click(); return true; }})()"
        ));
        assert_eq!(clicked, Value::Bool(true), "{before} shows a link to {prefix}");
        let after = tab.wait_for_location_change(&before);
        assert!(after.starts_with(prefix.trim_end_matches('?')), "clicked to {after}");
        let h1 = tab.eval("document.querySelector('h1').textContent");
        assert!(
            h1.as_str().is_some_and(|h| h.contains(&heading)),
            "{after}: h1 {h1} names {heading}"
        );
    }
    let page = tab.eval("document.body.textContent");
    assert!(
        page.as_str().is_some_and(|t| t.contains(&station.name)),
        "the station page is reached by clicking"
    );
    server.stop().await;
}
