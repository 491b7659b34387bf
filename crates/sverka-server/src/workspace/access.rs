//! What every handler of a protocol's pages (`/workspace/{entry,resolve,correct}/{station}/{contest}`
//! and the scan upload) checks before it does anything, as axum extractors:
//!
//! - [`ProtocolPage<A>`]: the page's language; the station × contest the path names, or 404 when
//!   the election has no such protocol; the signed-in session, or a redirect to `/login` coming
//!   back here; a 403 page when the role may not act on the station's district (the rule `A`
//!   names, [`Access`]);
//! - [`Posted<A>`]: the same for a POST, and the form once its CSRF token and origin passed
//!   ([`check_form`]).
//!
//! The order is the one every handler had before they shared it: the path and query are read,
//! then the form body, then the protocol, the session, the role and the CSRF token.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Form;
use sverka_model::Election;

use super::entry::{not_found, target, Target};
use crate::auth::pages::{check_form, lang, require};
use crate::auth::{AccountRole, Session};
use crate::site::i18n::Lang;
use crate::AppState;

/// Which pages of a protocol and who may open them.
pub trait Access: Send + Sync + 'static {
    /// The page's path before `/{station}/{contest}` (where the sign-in page comes back to).
    const PATH: &'static str;
    /// Whether `role` may act on a protocol of `district`.
    fn allowed(role: &AccountRole, district: &str) -> bool;
}

/// Keying a protocol: its entry form, claiming a step, finishing it, attaching the scan
/// (the district's operators and its chair, admins).
pub struct Keying;

impl Access for Keying {
    const PATH: &'static str = "/workspace/entry";
    fn allowed(role: &AccountRole, district: &str) -> bool {
        role.may_key(district)
    }
}

/// Giving back a claimed step (the holder or whoever may resolve the district's protocols).
pub struct Releasing;

impl Access for Releasing {
    const PATH: &'static str = "/workspace/entry";
    fn allowed(role: &AccountRole, district: &str) -> bool {
        role.may_resolve(district)
    }
}

/// Resolving the differences of two entries (a third person).
pub struct Resolving;

impl Access for Resolving {
    const PATH: &'static str = "/workspace/resolve";
    fn allowed(role: &AccountRole, district: &str) -> bool {
        role.may_resolve(district)
    }
}

/// Correcting a protocol in the log.
pub struct Correcting;

impl Access for Correcting {
    const PATH: &'static str = "/workspace/correct";
    fn allowed(role: &AccountRole, district: &str) -> bool {
        role.may_resolve(district)
    }
}

/// A protocol's page asked for by someone `A` allows.
pub struct ProtocolPage<A> {
    pub lang: Lang,
    pub session: Session,
    pub station: String,
    pub contest: String,
    /// The station's district.
    pub district: String,
    /// `A::PATH/{station}/{contest}`: where the page's forms post.
    pub here: String,
    /// The request's headers (an upload's CSRF check comes after its body is read).
    pub headers: HeaderMap,
    /// Kept for [`ProtocolPage::target`], which borrows from it.
    election: Arc<Election>,
    access: PhantomData<A>,
}

impl<A: Access> ProtocolPage<A> {
    /// The station, contest and form of the protocol (known to exist: checked when extracted).
    pub(crate) fn target(&self) -> Target<'_> {
        target(&self.election, &self.station, &self.contest).expect("checked when extracted")
    }

    /// A redirect to this district's progress table.
    pub fn to_district(&self) -> Response {
        let to = format!("/workspace/district/{}?lang={}", self.district, self.lang.code());
        axum::response::Redirect::to(&to).into_response()
    }

    /// The path and query, read before any body.
    async fn read_parts(parts: &mut Parts, state: &AppState) -> Result<Unchecked, Response> {
        let Path((station, contest)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(query) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Unchecked { station, contest, lang: lang(&query, &parts.headers) })
    }

    /// The protocol (404), the session (sign-in) and the role (403).
    fn admit(state: &AppState, read: Unchecked, headers: HeaderMap) -> Result<Self, Response> {
        let Unchecked { station, contest, lang } = read;
        let election = state.election().clone();
        let Some(found) = target(&election, &station, &contest) else {
            return Err(not_found(lang));
        };
        let district = found.station.district.clone();
        let here = format!("{}/{station}/{contest}", A::PATH);
        let session = require(state, &headers, &here, lang, |s| A::allowed(&s.role, &district))?;
        let access = PhantomData;
        Ok(ProtocolPage {
            lang,
            session,
            station,
            contest,
            district,
            here,
            headers,
            election,
            access,
        })
    }

    /// Checks a form this page posted: its CSRF token and origin (403 otherwise).
    pub fn check_form(&self, form: &HashMap<String, String>) -> Result<(), Response> {
        check_form(&self.session, &self.headers, form, self.lang)
    }
}

/// What the path and query said, before anything is checked.
struct Unchecked {
    station: String,
    contest: String,
    lang: Lang,
}

impl<A: Access> FromRequestParts<AppState> for ProtocolPage<A> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let read = Self::read_parts(parts, state).await?;
        Self::admit(state, read, parts.headers.clone())
    }
}

/// A form posted to a protocol's page by someone `A` allows, its CSRF token and origin checked.
pub struct Posted<A> {
    pub page: ProtocolPage<A>,
    pub form: HashMap<String, String>,
}

impl<A: Access> FromRequest<AppState> for Posted<A> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let read = ProtocolPage::<A>::read_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let Form(form) =
            Form::<HashMap<String, String>>::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(IntoResponse::into_response)?;
        let page = ProtocolPage::<A>::admit(state, read, headers)?;
        page.check_form(&form)?;
        Ok(Posted { page, form })
    }
}
