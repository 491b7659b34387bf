//! The protocol's scan beside the entry form: an operator attaches the photo or PDF of the paper
//! protocol; it is shown next to the numbers while both entries are keyed, and when the protocol
//! is signed its SHA-256 goes into the submission (`scan_sha256`) and the bytes into the store's
//! blobs (`Store::put_blob`), published as `blob/<sha256>` like every other scan.
//!
//! Until then the workspace keeps the bytes in its own `scans` table ([`super::db::put_scan`]),
//! so a wrong file attached by mistake is never published. What is accepted: at most
//! [`MAX_SCAN_BYTES`], and a JPEG, PNG or PDF by its first bytes (the name and the browser's
//! content type are not trusted).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::access::{Keying, ProtocolPage};
use super::db;
use super::entry::{refuse, Target};
use super::text::{t, T};
use super::view;
use crate::auth::pages::{internal, lang, require};
use crate::auth::Session;
use crate::site::html::esc;
use crate::site::i18n::Lang;
use crate::AppState;

/// The largest scan accepted: a phone photo of an A4 protocol or a scanned PDF page.
pub const MAX_SCAN_BYTES: usize = 8 * 1024 * 1024;

/// The request body limit of the upload route: the scan plus the form's other fields and the
/// multipart framing.
pub const MAX_UPLOAD_BODY: usize = MAX_SCAN_BYTES + 64 * 1024;

/// The content type of a scan by its first bytes: JPEG (`FF D8 FF`), PNG (its 8-byte signature)
/// or PDF (`%PDF-`); anything else is refused.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// The scan column beside the form: the scan (an image, or the PDF in a frame) and, where the
/// operator may attach one, the upload form.
pub(crate) fn aside(
    body: &mut String,
    lang: Lang,
    session: &Session,
    target: &Target<'_>,
    scan: Option<&(String, String)>,
    upload: bool,
) {
    let code = lang.code();
    let _ = write!(body, "<aside class=\"scan\" id=\"scan\"><h2>{}</h2>", esc(t(lang, T::Scan)));
    match scan {
        Some((sha256, content_type)) => {
            let url = format!("/workspace/scan/{sha256}");
            if content_type == "application/pdf" {
                let _ = write!(
                    body,
                    "<iframe src=\"{url}\" title=\"{}\" data-sha256=\"{sha256}\"></iframe>",
                    esc(t(lang, T::Scan))
                );
            } else {
                let _ = write!(
                    body,
                    "<img src=\"{url}\" alt=\"{}\" data-sha256=\"{sha256}\">",
                    esc(t(lang, T::Scan))
                );
            }
            let _ = write!(
                body,
                "<p class=\"legend\"><a href=\"{url}\" target=\"_blank\" rel=\"noopener\">{}</a> · SHA-256 <code>{}…</code></p>",
                esc(t(lang, T::OpenScan)),
                &sha256[..16]
            );
        }
        None => {
            let _ = write!(body, "<p class=\"legend\">{}</p>", esc(t(lang, T::ScanNone)));
        }
    }
    if upload {
        let _ = write!(
            body,
            "<form method=\"post\" enctype=\"multipart/form-data\" id=\"upload\" \
             action=\"/workspace/scan/{s}/{c}?lang={code}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <p><input type=\"file\" name=\"scan\" id=\"scan-file\" accept=\"image/jpeg,image/png,application/pdf\" required> \
             <button type=\"submit\" class=\"secondary\">{upload}</button></p>\
             <p class=\"legend\">{note}</p></form>",
            s = esc(&target.station.id),
            c = esc(&target.contest.id),
            csrf = esc(&session.csrf),
            upload = esc(t(lang, T::UploadScan)),
            note = esc(t(lang, T::ScanNote)),
        );
    }
    body.push_str("</aside>");
}

/// Reads the upload's fields: the CSRF token and the file (stopping at the size limit).
async fn read_upload(multipart: &mut Multipart) -> Result<(HashMap<String, String>, Vec<u8>), T> {
    let mut fields = HashMap::new();
    let mut file = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(T::ScanTooLarge),
            Err(_) => return Err(T::ScanMissing),
        };
        let name = field.name().unwrap_or("").to_string();
        let mut field = field;
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_SCAN_BYTES {
                        return Err(T::ScanTooLarge);
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(T::ScanTooLarge)
                }
                Err(_) => return Err(T::ScanMissing),
            }
        }
        if name == "scan" {
            file = bytes;
        } else if bytes.len() <= 4096 {
            fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok((fields, file))
}

/// `POST /workspace/scan/{station}/{contest}` (multipart): attaches the protocol's scan while
/// it is being keyed; back to the entry form, the scan beside it.
pub async fn upload(
    State(state): State<AppState>,
    page: ProtocolPage<Keying>,
    mut multipart: Multipart,
) -> Response {
    let (lang, session, here) = (page.lang, &page.session, page.here.as_str());
    let (station, contest) = (&page.station, &page.contest);
    let (fields, bytes) = match read_upload(&mut multipart).await {
        Ok(read) => read,
        Err(problem) => {
            let status = if problem == T::ScanTooLarge {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return problem_page(lang, session, here, status, problem);
        }
    };
    if let Err(response) = page.check_form(&fields) {
        return response;
    }
    if bytes.is_empty() {
        return problem_page(lang, session, here, StatusCode::BAD_REQUEST, T::ScanMissing);
    }
    let Some(content_type) = sniff(&bytes) else {
        return problem_page(
            lang,
            session,
            here,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            T::ScanWrongType,
        );
    };
    let sha256 = sverka_model::submission::sha256_hex(&bytes);
    let auth = match state.auth() {
        Ok(auth) => auth,
        Err(e) => return internal(e),
    };
    let me = session.account.clone();
    let outcome = auth.with(|conn| {
        let tx = conn.transaction()?;
        let mut row = db::get(&tx, station, contest)?;
        if row.state.is_done() {
            return Ok(false);
        }
        db::put_scan(&tx, &sha256, content_type, &bytes, &me)?;
        row.scan_sha256 = Some(sha256.clone());
        db::put(&tx, &row)?;
        let detail = format!("{content_type}, {} bytes, sha256 {sha256}", bytes.len());
        crate::auth::audit_in(&tx, &me, "scan.attach", &format!("{station}/{contest}"), &detail)?;
        tx.commit()?;
        Ok(true)
    });
    match outcome {
        Ok(true) => Redirect::to(&format!("{here}?lang={}", lang.code())).into_response(),
        Ok(false) => refuse(lang, session, &page.district, t(lang, T::WrongState)),
        Err(e) => internal(e),
    }
}

fn problem_page(
    lang: Lang,
    session: &Session,
    back: &str,
    status: StatusCode,
    problem: T,
) -> Response {
    let body = format!(
        "<section><p class=\"error\" role=\"alert\">{}</p><p class=\"legend\">{}</p>\
         <p><a href=\"{}?lang={}\">←</a></p></section>",
        esc(t(lang, problem)),
        esc(t(lang, T::ScanNote)),
        esc(back),
        lang.code()
    );
    view::respond(status, view::page(lang, Some(session), t(lang, problem), back, &body))
}

/// `GET /workspace/scan/{sha256}`: a scan the workspace holds, with the content type sniffed at
/// upload, for signed-in people (published scans are at `/blob/<sha256>`).
pub async fn serve(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&query, &headers);
    let here = format!("/workspace/scan/{sha256}");
    if let Err(response) = require(&state, &headers, &here, lang, |_| true) {
        return response;
    }
    let hex = sha256.len() == 64 && sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let found = match state.auth() {
        Ok(auth) if hex => auth.with(|conn| db::scan(conn, &sha256)),
        Ok(_) => Ok(None),
        Err(e) => return internal(e),
    };
    let (content_type, bytes) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such scan").into_response(),
        Err(e) => return internal(e),
    };
    let extension = match content_type.as_str() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        _ => "pdf",
    };
    let disposition = format!("inline; filename=\"scan-{}.{extension}\"", &sha256[..16]);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_str(&content_type).expect("a sniffed type")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600")),
            (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).expect("ASCII")),
            // Shown in the entry page's frame (PDF), never in another site's.
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'self'")),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn only_jpeg_png_and_pdf_are_scans_whatever_they_are_called() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"\x89PNG"), None, "a truncated signature is not a PNG");
        assert_eq!(sniff(b""), None);
    }
}
