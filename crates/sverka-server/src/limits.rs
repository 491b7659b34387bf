//! Rate limits on the submission endpoints: a token bucket per sender IP address and one per
//! signing key, each answered with its own problem code (`H009`, `H010`: 429 with `Retry-After`).
//!
//! A bucket holds at most `burst` tokens and refills at `per_second` tokens a second; a request
//! that finds less than the tokens it needs is refused, and told how many seconds until there are
//! enough.
//!
//! - **Per IP** ([`Limits::take_ip`]): one token per request to `POST /api/v1/submissions` or
//!   `/submissions/batch`, taken before the body is read, so a flood costs the server nothing but
//!   the refusal. Scanners behind one mobile operator's gateway share an address, so the default
//!   is generous.
//! - **Per key** ([`Limits::take_key`]): one token per submission signed by the key the payload
//!   names. The name is only a claim until the signature is checked, so the token is taken
//!   before the store is asked and given back ([`Limits::refund_key`]) unless the store's answer
//!   shows the signature verified (accepted, or refused for something after the signature check).
//!   So forged submissions naming someone else's key cannot use up that key's allowance; they
//!   count against their sender's address instead.
//!
//! Buckets of senders not seen for a while are dropped once the table holds
//! [`MAX_TRACKED`] of them (a full bucket is the same as no bucket).

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

use sverka_model::protocol_view::ProtocolView;

/// Most buckets kept per limiter before idle (full) ones are dropped.
pub const MAX_TRACKED: usize = 100_000;

/// One token bucket's shape: sustained rate and burst.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Most tokens a bucket holds (and so the largest burst allowed after a quiet spell).
    pub burst: u32,
}

impl RateLimit {
    /// A limit of `per_second` (above 0) with bursts of `burst` (at least 1).
    pub fn new(per_second: f64, burst: u32) -> Result<RateLimit, String> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(format!("rate {per_second}: give a number of requests per second above 0"));
        }
        if burst == 0 {
            return Err("burst 0: a bucket must hold at least one token".to_string());
        }
        Ok(RateLimit { per_second, burst })
    }
}

/// `RATE/BURST`, e.g. `100/1000` (100 a second, bursts of 1000), or `RATE` (burst = rate).
impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<RateLimit, String> {
        let (rate, burst) = text.split_once('/').unwrap_or((text, ""));
        let per_second: f64 = rate
            .trim()
            .parse()
            .map_err(|_| format!("{text:?}: expected RATE/BURST, e.g. 100/1000"))?;
        let burst = match burst.trim() {
            "" => per_second.ceil().max(1.0) as u32,
            burst => burst
                .parse()
                .map_err(|_| format!("{text:?}: the burst after '/' is a whole number"))?,
        };
        RateLimit::new(per_second, burst)
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets of one limit, by sender.
#[derive(Debug)]
pub struct Limiter<K> {
    limit: RateLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    pub fn new(limit: RateLimit) -> Limiter<K> {
        Limiter { limit, buckets: Mutex::new(HashMap::new()) }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst))
    }

    /// Takes `n` tokens from `key`'s bucket at `now`; when it holds fewer, takes nothing and
    /// returns the whole seconds (at least 1) until it will hold `n`.
    pub fn take(&self, key: &K, n: u32, now: Instant) -> Result<(), u32> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let burst = f64::from(self.limit.burst);
        let tokens = buckets.get(key).map_or(burst, |b| self.refilled(*b, now));
        let need = f64::from(n);
        if tokens < need {
            let wait = ((need.min(burst) - tokens) / self.limit.per_second).ceil();
            return Err(wait.clamp(1.0, f64::from(u32::MAX)) as u32);
        }
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(key) {
            buckets.retain(|_, b| self.refilled(*b, now) < burst);
        }
        buckets.insert(key.clone(), Bucket { tokens: tokens - need, updated: now });
        Ok(())
    }

    /// Gives back `n` tokens taken from `key` (never above the burst).
    pub fn refund(&self, key: &K, n: u32, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = buckets.get_mut(key) {
            let tokens =
                (self.refilled(*bucket, now) + f64::from(n)).min(f64::from(self.limit.burst));
            *bucket = Bucket { tokens, updated: now };
        }
    }

    /// How many senders have a bucket.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The server's rate limiters; a limit that is not configured is not enforced.
#[derive(Debug)]
pub struct Limits {
    per_ip: Option<Limiter<IpAddr>>,
    per_key: Option<Limiter<String>>,
}

impl Limits {
    pub fn new(per_ip: Option<RateLimit>, per_key: Option<RateLimit>) -> Limits {
        Limits { per_ip: per_ip.map(Limiter::new), per_key: per_key.map(Limiter::new) }
    }

    /// One request from `ip`: `Err(seconds to wait)` when its bucket is empty.
    pub fn take_ip(&self, ip: Option<IpAddr>) -> Result<(), u32> {
        match (&self.per_ip, ip) {
            (Some(limiter), Some(ip)) => limiter.take(&ip, 1, Instant::now()),
            _ => Ok(()),
        }
    }

    /// One submission signed (so it claims) by `key`.
    pub fn take_key(&self, key: &str) -> Result<(), u32> {
        match &self.per_key {
            Some(limiter) => limiter.take(&key.to_string(), 1, Instant::now()),
            None => Ok(()),
        }
    }

    /// Gives back the token of a submission whose signature did not verify (or was never
    /// checked), so a forged claim costs the named key nothing.
    pub fn refund_key(&self, key: &str) {
        if let Some(limiter) = &self.per_key {
            limiter.refund(&key.to_string(), 1, Instant::now());
        }
    }

    pub fn per_key_enabled(&self) -> bool {
        self.per_key.is_some()
    }
}

/// The signer a submission's bytes name (`payload.signer`), read without decoding the rest;
/// `None` when the bytes do not say (they will be refused by decoding anyway).
///
/// A protocol in the plain canonical form (what senders send) is read in place as a
/// [`ProtocolView`], one pass without building anything: whenever that gives a view, the typed
/// parse of the same bytes succeeds with the same signer, so the bytes are JSON whose `payload`
/// member (the only one of that name) is an object with exactly one `signer`, a string without
/// escapes, and the general read below gives that signer too. Anything else is read the general
/// way (`tests::the_claimed_signer_is_the_same_either_way`).
pub fn claimed_signer(bytes: &[u8]) -> Option<String> {
    match ProtocolView::parse(bytes) {
        Some(protocol) => Some(protocol.signer.to_string()),
        None => claimed_signer_parsed(bytes),
    }
}

/// [`claimed_signer`] the general way: `serde_json` reads the envelope, skipping (but checking
/// the syntax of) every member but `payload.signer`.
fn claimed_signer_parsed(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        payload: Signer,
    }
    #[derive(serde::Deserialize)]
    struct Signer {
        signer: String,
    }
    serde_json::from_slice::<Envelope>(bytes).ok().map(|e| e.payload.signer)
}

/// Whether the store's answer shows that the signature of the submission verified: it was
/// accepted, or refused by a check that comes after the signature check (the registry checks
/// election `E101`, key `E102`, revocation `E103` and signature `E104` first; decoding `E0xx`
/// comes before all of them).
pub fn signature_verified(first_code: Option<&str>) -> bool {
    match first_code {
        None => true,
        Some(code) => {
            !(code.starts_with("E0") || matches!(code, "E101" | "E102" | "E103" | "E104"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = Limiter::new(RateLimit::new(2.0, 3).unwrap());
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take(&"k", 1, start), Ok(()));
        }
        assert_eq!(limiter.take(&"k", 1, start), Err(1), "empty: one token takes half a second");
        assert_eq!(limiter.take(&"other", 1, start), Ok(()), "buckets are per sender");
        let later = start + Duration::from_millis(500);
        assert_eq!(limiter.take(&"k", 1, later), Ok(()));
        assert_eq!(limiter.take(&"k", 1, later), Err(1));
        let much_later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.take(&"k", 1, much_later), Ok(()), "refills to the burst only");
        }
        assert!(limiter.take(&"k", 1, much_later).is_err());
    }

    #[test]
    fn a_refund_gives_back_what_was_taken() {
        let limiter = Limiter::new(RateLimit::new(0.01, 1).unwrap());
        let now = Instant::now();
        assert_eq!(limiter.take(&"k", 1, now), Ok(()));
        assert_eq!(limiter.take(&"k", 1, now), Err(100), "one token in 100 s");
        limiter.refund(&"k", 1, now);
        assert_eq!(limiter.take(&"k", 1, now), Ok(()));
        limiter.refund(&"k", 5, now);
        assert_eq!(limiter.take(&"k", 1, now), Ok(()));
        assert!(limiter.take(&"k", 1, now).is_err(), "never refunded above the burst");
    }

    #[test]
    fn limits_parse_from_rate_and_burst() {
        assert_eq!("100/1000".parse(), Ok(RateLimit { per_second: 100.0, burst: 1000 }));
        assert_eq!("0.5".parse(), Ok(RateLimit { per_second: 0.5, burst: 1 }));
        assert!("0/10".parse::<RateLimit>().is_err());
        assert!("10/0".parse::<RateLimit>().is_err());
        assert!("fast".parse::<RateLimit>().is_err());
    }

    #[test]
    fn the_claimed_signer_is_read_without_decoding() {
        let bytes = br#"{"payload":{"seq":1,"signer":"box-1","v":1},"signature":"x"}"#;
        assert_eq!(claimed_signer(bytes).as_deref(), Some("box-1"));
        assert_eq!(claimed_signer(b"{\"payload\":1}"), None);
    }

    /// Bytes made from `line` by replacing `from` (its first occurrence) with `to`.
    fn edited(line: &[u8], from: &str, to: &str) -> Vec<u8> {
        let text = String::from_utf8(line.to_vec()).unwrap();
        assert!(text.contains(from), "{from} is in the line");
        text.replacen(from, to, 1).into_bytes()
    }

    #[test]
    fn the_claimed_signer_is_the_same_either_way() {
        let toml = include_str!("../../../examples/tiny/election.toml");
        let config = sverka_model::simulate::Config {
            seed: 14,
            broken_relation_count: 1,
            observer_discrepancy_count: 1,
            ..Default::default()
        };
        let night = sverka_model::simulate::Night::new("election.toml", toml, config).unwrap();
        let lines: Vec<Vec<u8>> = (night.submissions().split(|&b| b == b'\n'))
            .filter(|line| !line.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let protocols: Vec<&Vec<u8>> =
            lines.iter().filter(|line| ProtocolView::parse(line).is_some()).collect();
        assert!(protocols.len() > 10, "most lines are protocols read in place");
        let line = protocols[0].as_slice();
        let signer = ProtocolView::parse(line).unwrap().signer;
        let signer_member = format!("\"signer\":\"{signer}\"");
        let mut odd: Vec<Vec<u8>> = Vec::new();
        // Every prefix, and every byte replaced by one that matters to JSON.
        for end in 0..line.len() {
            odd.push(line[..end].to_vec());
        }
        for at in 0..line.len() {
            for byte in [b' ', b'"', b'\\', b'{', b'}', b',', b':', b'0', b'x', 0, 0x7f, 0xc3, 0xff]
            {
                let mut bytes = line.to_vec();
                bytes[at] = byte;
                odd.push(bytes);
            }
        }
        let escaped: String = signer.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        let close = line.len() - 1;
        let with_tail = |tail: &[u8]| {
            let mut bytes = line.to_vec();
            bytes.extend_from_slice(tail);
            bytes
        };
        odd.extend([with_tail(b"\n"), with_tail(b" "), with_tail(b"x"), with_tail(b"{}")]);
        odd.extend([
            [b"[".as_slice(), line, b"]"].concat(),
            [b" ".as_slice(), line].concat(),
            edited(line, &signer_member, &format!("\"signer\":\"{escaped}\"")),
            edited(line, &signer_member, &format!("\"sig\\u006eer\":\"{signer}\"")),
            edited(line, &signer_member, &format!("{signer_member},{signer_member}")),
            edited(line, &signer_member, &format!("{signer_member},\"signer\":\"other\"")),
            edited(line, &signer_member, &format!("\"signer\": \"{signer}\"")),
            edited(line, &signer_member, "\"signer\":7"),
            edited(line, &signer_member, "\"signer\":null"),
            edited(line, &signer_member, "\"signer\":\"caf\u{e9}\""),
            edited(line, &signer_member, "\"signer\":\"\\ud800\""),
            edited(line, "{\"payload\":", "{\"payload\":{},\"payload\":"),
            edited(line, "{\"payload\":", "{\"pay\\u006coad\":"),
            edited(line, "\"signature\":\"", "\"signature\":\"\u{e9}"),
            edited(line, "\"type\":\"protocol\"", "\"type\":\"annulment\""),
            [&line[..close], b",\"extra\":1}".as_slice()].concat(),
        ]);
        let mut bad_utf8 = edited(line, "\"signature\":\"", "\"signature\":\"\u{e9}");
        let at = bad_utf8.iter().position(|&b| b == 0xc3).unwrap();
        bad_utf8[at + 1] = b'x';
        odd.push(bad_utf8);
        let mut read_in_place = 0;
        for bytes in lines.iter().chain(&odd) {
            read_in_place += usize::from(ProtocolView::parse(bytes).is_some());
            assert_eq!(
                claimed_signer(bytes),
                claimed_signer_parsed(bytes),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert!(read_in_place > protocols.len(), "some odd bytes are still read in place");
        assert!(read_in_place < lines.len() + odd.len(), "and most are read the general way");
    }

    #[test]
    fn only_answers_after_the_signature_check_count_against_a_key() {
        assert!(signature_verified(None));
        assert!(signature_verified(Some("E401")));
        assert!(signature_verified(Some("E105")));
        assert!(!signature_verified(Some("E104")));
        assert!(!signature_verified(Some("E004")));
    }
}
