//! RFC 8785 JSON Canonicalization Scheme (JCS) for the value shapes sverka signs and logs.
//!
//! sverka's formats use only objects, arrays, strings, booleans, null and integers, so the number
//! serialisation of RFC 8785 §3.2.2.3 reduces to plain decimal integers; any non-integer number is
//! refused rather than canonicalised. Object members are sorted by their names as UTF-16 code units
//! (§3.2.3), strings are escaped as ECMAScript's `JSON.stringify` does (§3.2.2.2).

use serde::Serialize;
use serde_json::Value;

/// Why a value has no canonical form in sverka's subset of RFC 8785.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    /// A number that is not an integer (sverka's formats carry no fractions on the wire).
    #[error("number {0} is not an integer")]
    NotAnInteger(String),
    /// An integer outside ±(2^53 − 1), which I-JSON (RFC 7493 §2.2) says cannot be exchanged exactly.
    #[error("integer {0} is outside the exactly representable range ±(2^53-1)")]
    OutOfRange(String),
    /// The value could not be turned into JSON at all.
    #[error("cannot serialise: {0}")]
    Serialise(String),
}

const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The canonical bytes of any serialisable value.
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value =
        serde_json::to_value(value).map_err(|e| CanonicalError::Serialise(e.to_string()))?;
    value_to_vec(&value)
}

/// The canonical bytes of a JSON value.
pub fn value_to_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical bytes of a JSON value to `out` (for writers that build a large document
/// piece by piece instead of as one value tree).
pub fn extend_with_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    write_value(value, out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_integer(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (name, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_integer(n: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(CanonicalError::OutOfRange(n.to_string()));
        }
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::OutOfRange(n.to_string()));
        }
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        return Err(CanonicalError::NotAnInteger(n.to_string()));
    }
    Ok(())
}

/// ECMAScript `JSON.stringify` string escaping (ECMA-262 `QuoteJSONString`), as RFC 8785 §3.2.2.2 requires.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    // Nearly every string sverka writes (ids, names of sources) has nothing to escape: copied as
    // it is.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0C}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A non-negative integer as RFC 8785 writes it: decimal digits, no sign, no leading zeros (as
/// `serde_json` writes it too). The caller keeps it within 2^53 − 1, the range [`to_vec`] accepts.
pub fn write_u64(n: u64, out: &mut Vec<u8>) {
    let (mut digits, mut at, mut n) = ([0u8; 20], 20, n);
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Whether `bytes` are exactly the canonical encoding of `value`, i.e. `to_vec(value)` is
/// `Ok(bytes)`, decided without encoding `value`: one pass over the bytes checks that they are
/// canonical JSON (no whitespace, members in UTF-16 order and unique, integers in decimal within
/// ±(2^53−1), strings escaped as `JSON.stringify` does) and records where each value lies; then
/// `value` is walked through its `Serialize` impl and each piece is compared with the value at its
/// place. So whatever serde accepts on input but writes differently (an explicit `null` for a
/// skipped field, an empty map that is skipped, a struct as an array, an enum as an object, a
/// variant tag as a number) does not match.
///
/// The answer is `false` (never a false `true`) for shapes this walk does not compare (floats,
/// bytes, non-string map keys); [`to_vec`] refuses floats too, and sverka's formats have none of
/// the others. `tests/decode_canonical.rs` and the `canonical_check` fuzz target hold it to
/// `to_vec(value) == bytes`.
pub fn is_encoding_of<T: Serialize + ?Sized>(value: &T, bytes: &[u8]) -> bool {
    let Some(tape) = Tape::scan(bytes) else {
        return false;
    };
    let mut used = vec![false; tape.members.len()];
    // Nodes are pushed when they end, so the whole value is the last one.
    let root = tape.nodes.len() - 1;
    let matcher = Matcher { tape: &tape, node: root, used: &mut used };
    value.serialize(matcher).is_ok()
}

/// The most nested arrays and objects the one-pass check follows (serde_json's own limit is 128).
const MAX_DEPTH: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    True,
    False,
    Integer(i64),
    /// A string; its node's range is the bytes between the quotes, still escaped.
    String {
        escaped: bool,
    },
    /// Elements are `children[first..first + len]`.
    Array {
        first: u32,
        len: u32,
    },
    /// Members are `members[first..first + len]`, in UTF-16 order of their names.
    Object {
        first: u32,
        len: u32,
    },
}

#[derive(Clone, Copy, Debug)]
struct Node {
    kind: Kind,
    start: u32,
    end: u32,
}

/// Canonical JSON bytes, checked, with every value's place: nodes, the element list of arrays
/// and the (name, value) list of objects, each a contiguous run per container.
struct Tape<'a> {
    bytes: &'a [u8],
    nodes: Vec<Node>,
    children: Vec<u32>,
    members: Vec<(u32, u32)>,
}

impl<'a> Tape<'a> {
    /// The tape of `bytes` if they are canonical JSON of one value, else `None`.
    fn scan(bytes: &'a [u8]) -> Option<Tape<'a>> {
        if bytes.len() > u32::MAX as usize || std::str::from_utf8(bytes).is_err() {
            return None;
        }
        let mut tape = Tape {
            bytes,
            nodes: Vec::with_capacity(bytes.len() / 8),
            children: Vec::new(),
            members: Vec::new(),
        };
        let mut scanner = Scanner { pos: 0, child_stack: Vec::new(), member_stack: Vec::new() };
        scanner.value(&mut tape, 0)?;
        (scanner.pos == bytes.len()).then_some(tape)
    }

    fn text(&self, node: &Node) -> &'a [u8] {
        &self.bytes[node.start as usize..node.end as usize]
    }

    /// The member of object `node` named `name`, by binary search in UTF-16 order.
    fn member(&self, node: &Node, name: &str) -> Option<usize> {
        let Kind::Object { first, len } = node.kind else { return None };
        let range = first as usize..(first + len) as usize;
        let members = &self.members[range.clone()];
        let found = members.binary_search_by(|&(key, _)| {
            let key = &self.nodes[key as usize];
            compare_key(self.text(key), key.kind, name)
        });
        found.ok().map(|i| range.start + i)
    }
}

/// A string's escaped text compared with `name` in UTF-16 order (RFC 8785 §3.2.3).
fn compare_key(text: &[u8], kind: Kind, name: &str) -> std::cmp::Ordering {
    match kind {
        Kind::String { escaped: false } => utf16_cmp(text, name.as_bytes()),
        _ => unescape(text).encode_utf16().cmp(name.encode_utf16()),
    }
}

/// Two UTF-8 strings compared in UTF-16 code-unit order. That is their byte order unless both
/// have a character from U+E000 on at the first difference (UTF-8 lead byte 0xEE or above),
/// where a supplementary character (two UTF-16 surrogates, 0xD800–0xDFFF) sorts first.
fn utf16_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    match (a.get(common), b.get(common)) {
        (Some(&x), Some(&y)) if x >= 0x80 || y >= 0x80 => {
            // Back to the start of the character that differs, then compare from there.
            let start = (0..=common).rev().find(|&i| a[i] & 0xC0 != 0x80).unwrap_or(0);
            let (a, b) = (std::str::from_utf8(&a[start..]), std::str::from_utf8(&b[start..]));
            let (a, b) = (a.expect("checked when scanned"), b.expect("checked when scanned"));
            a.encode_utf16().cmp(b.encode_utf16())
        }
        _ => a.cmp(b),
    }
}

/// The string a canonical string's escaped text stands for.
fn unescape(text: &[u8]) -> String {
    let text = std::str::from_utf8(text).expect("checked when scanned");
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('b') => '\u{08}',
            Some('f') => '\u{0C}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                char::from_u32(u32::from_str_radix(&hex, 16).unwrap_or(0)).unwrap_or('\0')
            }
            Some(other) => other,
            None => '\\',
        });
    }
    out
}

/// Whether the escaped text of a canonical string stands for `s`.
fn string_is(text: &[u8], kind: Kind, s: &str) -> bool {
    match kind {
        Kind::String { escaped: false } => text == s.as_bytes(),
        Kind::String { escaped: true } => unescape(text) == s,
        _ => false,
    }
}

struct Scanner {
    pos: usize,
    child_stack: Vec<u32>,
    member_stack: Vec<(u32, u32)>,
}

impl Scanner {
    fn peek(&self, tape: &Tape) -> Option<u8> {
        tape.bytes.get(self.pos).copied()
    }

    fn literal(&mut self, tape: &mut Tape, word: &[u8], kind: Kind) -> Option<u32> {
        let start = self.pos;
        if !tape.bytes[start..].starts_with(word) {
            return None;
        }
        self.pos += word.len();
        Some(push(tape, kind, start, self.pos))
    }

    fn value(&mut self, tape: &mut Tape, depth: usize) -> Option<u32> {
        match self.peek(tape)? {
            b'n' => self.literal(tape, b"null", Kind::Null),
            b't' => self.literal(tape, b"true", Kind::True),
            b'f' => self.literal(tape, b"false", Kind::False),
            b'"' => self.string(tape),
            b'-' | b'0'..=b'9' => self.integer(tape),
            b'[' if depth < MAX_DEPTH => self.array(tape, depth + 1),
            b'{' if depth < MAX_DEPTH => self.object(tape, depth + 1),
            _ => None,
        }
    }

    /// `0` or `-?[1-9][0-9]*` within ±(2^53−1): how [`write_integer`] writes integers.
    fn integer(&mut self, tape: &mut Tape) -> Option<u32> {
        let start = self.pos;
        let negative = self.peek(tape) == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while matches!(self.peek(tape), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &tape.bytes[digits_start..self.pos];
        let canonical_digits = match digits {
            [] => false,
            [b'0'] => !negative,
            [first, ..] => *first != b'0' && digits.len() <= 16,
        };
        if !canonical_digits {
            return None;
        }
        let magnitude: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
        if magnitude > MAX_SAFE_INTEGER {
            return None;
        }
        let value = if negative { -(magnitude as i64) } else { magnitude as i64 };
        Some(push(tape, Kind::Integer(value), start, self.pos))
    }

    /// A string escaped as [`write_string`] escapes it. The node's range is inside the quotes.
    fn string(&mut self, tape: &mut Tape) -> Option<u32> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match *tape.bytes.get(self.pos)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    let len = canonical_escape_len(&tape.bytes[self.pos..])?;
                    self.pos += len;
                }
                byte if byte < 0x20 => return None,
                _ => self.pos += 1,
            }
        }
        let end = self.pos;
        self.pos += 1;
        Some(push(tape, Kind::String { escaped }, start, end))
    }

    fn array(&mut self, tape: &mut Tape, depth: usize) -> Option<u32> {
        let start = self.pos;
        self.pos += 1;
        let mark = self.child_stack.len();
        if self.peek(tape)? != b']' {
            loop {
                let child = self.value(tape, depth)?;
                self.child_stack.push(child);
                match self.peek(tape)? {
                    b',' => self.pos += 1,
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.pos += 1;
        let first = tape.children.len() as u32;
        let len = (self.child_stack.len() - mark) as u32;
        tape.children.extend(self.child_stack.drain(mark..));
        Some(push(tape, Kind::Array { first, len }, start, self.pos))
    }

    fn object(&mut self, tape: &mut Tape, depth: usize) -> Option<u32> {
        let start = self.pos;
        self.pos += 1;
        let mark = self.member_stack.len();
        if self.peek(tape)? != b'}' {
            loop {
                if self.peek(tape)? != b'"' {
                    return None;
                }
                let key = self.string(tape)?;
                if let Some(&(previous, _)) = self.member_stack[mark..].last() {
                    if !in_order(tape, previous, key) {
                        return None;
                    }
                }
                if self.peek(tape)? != b':' {
                    return None;
                }
                self.pos += 1;
                let value = self.value(tape, depth)?;
                self.member_stack.push((key, value));
                match self.peek(tape)? {
                    b',' => self.pos += 1,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.pos += 1;
        let first = tape.members.len() as u32;
        let len = (self.member_stack.len() - mark) as u32;
        tape.members.extend(self.member_stack.drain(mark..));
        Some(push(tape, Kind::Object { first, len }, start, self.pos))
    }
}

fn push(tape: &mut Tape, kind: Kind, start: usize, end: usize) -> u32 {
    tape.nodes.push(Node { kind, start: start as u32, end: end as u32 });
    (tape.nodes.len() - 1) as u32
}

/// The length of the escape at the start of `rest` if it is the one [`write_string`] writes.
fn canonical_escape_len(rest: &[u8]) -> Option<usize> {
    match rest.get(1)? {
        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => Some(2),
        b'u' => {
            let hex = rest.get(2..6)?;
            let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
            if !hex.iter().all(lower_hex) || &hex[..2] != b"00" {
                return None;
            }
            let code = u8::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()?;
            let has_short_form = matches!(code, 0x08 | 0x09 | 0x0A | 0x0C | 0x0D);
            (code < 0x20 && !has_short_form).then_some(6)
        }
        _ => None,
    }
}

/// Whether member name `previous` sorts strictly before `key` in UTF-16 order.
fn in_order(tape: &Tape, previous: u32, key: u32) -> bool {
    let (previous, key) = (tape.nodes[previous as usize], tape.nodes[key as usize]);
    let (a, b) = (tape.text(&previous), tape.text(&key));
    if previous.kind == (Kind::String { escaped: false }) && key.kind == previous.kind {
        return utf16_cmp(a, b).is_lt();
    }
    unescape(a).encode_utf16().lt(unescape(b).encode_utf16())
}

/// Not the same value: the error of the comparing walk (its message is never shown).
#[derive(Debug)]
struct Mismatch;

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not the canonical encoding")
    }
}

impl std::error::Error for Mismatch {}

impl serde::ser::Error for Mismatch {
    fn custom<T: std::fmt::Display>(_: T) -> Mismatch {
        Mismatch
    }
}

/// A `Serializer` that compares what `serde_json::to_value` would build with the value at
/// `node` of the tape, piece by piece, instead of building it. `used` marks object members
/// already compared, so a member written twice cannot stand for one left out.
struct Matcher<'t, 'a> {
    tape: &'t Tape<'a>,
    node: usize,
    used: &'t mut [bool],
}

impl<'t, 'a> Matcher<'t, 'a> {
    fn node(&self) -> Node {
        self.tape.nodes[self.node]
    }

    fn expect(&self, ok: bool) -> Result<(), Mismatch> {
        ok.then_some(()).ok_or(Mismatch)
    }

    fn integer(self, value: i128) -> Result<(), Mismatch> {
        let ok = value.unsigned_abs() <= MAX_SAFE_INTEGER as u128
            && self.node().kind == Kind::Integer(value as i64);
        self.expect(ok)
    }

    /// The object of this node, to be filled member by member.
    fn object(self) -> Result<ObjectMatcher<'t, 'a>, Mismatch> {
        let node = self.node();
        let Kind::Object { first, len } = node.kind else { return Err(Mismatch) };
        let (hint, end) = (first as usize, (first + len) as usize);
        let tape = self.tape;
        Ok(ObjectMatcher { tape, node, used: self.used, matched: 0, len, next: None, hint, end })
    }

    /// The value of the one member named `variant` of this node's object (how serde_json writes
    /// an enum variant that carries data).
    fn variant(self, variant: &str) -> Result<Matcher<'t, 'a>, Mismatch> {
        let node = self.node();
        let one_member = matches!(node.kind, Kind::Object { len: 1, .. });
        let member = self.tape.member(&node, variant).filter(|_| one_member).ok_or(Mismatch)?;
        let value = self.tape.members[member].1 as usize;
        Ok(Matcher { tape: self.tape, node: value, used: self.used })
    }

    fn array(self, len: Option<usize>) -> Result<ArrayMatcher<'t, 'a>, Mismatch> {
        let Kind::Array { first, len: have } = self.node().kind else { return Err(Mismatch) };
        if len.is_some_and(|len| len != have as usize) {
            return Err(Mismatch);
        }
        Ok(ArrayMatcher { tape: self.tape, used: self.used, first, len: have, at: 0 })
    }
}

struct ArrayMatcher<'t, 'a> {
    tape: &'t Tape<'a>,
    used: &'t mut [bool],
    first: u32,
    len: u32,
    at: u32,
}

impl ArrayMatcher<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Mismatch> {
        if self.at == self.len {
            return Err(Mismatch);
        }
        let node = self.tape.children[(self.first + self.at) as usize] as usize;
        self.at += 1;
        value.serialize(Matcher { tape: self.tape, node, used: self.used })
    }

    fn finish(self) -> Result<(), Mismatch> {
        (self.at == self.len).then_some(()).ok_or(Mismatch)
    }
}

struct ObjectMatcher<'t, 'a> {
    tape: &'t Tape<'a>,
    node: Node,
    used: &'t mut [bool],
    matched: u32,
    len: u32,
    /// The member whose name [`SerializeMap::serialize_key`] found, for the value that follows.
    next: Option<usize>,
    /// The member after the one found last, and the end of this object's members.
    hint: usize,
    end: usize,
}

impl ObjectMatcher<'_, '_> {
    fn find(&mut self, name: &str) -> Result<usize, Mismatch> {
        // Maps come in sorted order, so the member after the last one found is tried first.
        let after = self.tape.members.get(self.hint).filter(|&&(key, _)| {
            let key = &self.tape.nodes[key as usize];
            self.hint < self.end && string_is(self.tape.text(key), key.kind, name)
        });
        let member = match after {
            Some(_) => self.hint,
            None => self.tape.member(&self.node, name).ok_or(Mismatch)?,
        };
        self.hint = member + 1;
        if std::mem::replace(&mut self.used[member], true) {
            return Err(Mismatch);
        }
        self.matched += 1;
        Ok(member)
    }

    fn value<T: Serialize + ?Sized>(&mut self, member: usize, value: &T) -> Result<(), Mismatch> {
        let node = self.tape.members[member].1 as usize;
        value.serialize(Matcher { tape: self.tape, node, used: self.used })
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), Mismatch> {
        let member = self.find(name)?;
        self.value(member, value)
    }

    fn finish(self) -> Result<(), Mismatch> {
        (self.matched == self.len && self.next.is_none()).then_some(()).ok_or(Mismatch)
    }
}

/// Takes a map key that serializes as a string (what `serde_json::to_value` does with `String`
/// and `&str` keys; other keys are not compared) and finds its member.
struct KeyFinder<'m, 't, 'a>(&'m mut ObjectMatcher<'t, 'a>);

macro_rules! mismatch {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Mismatch> { Err(Mismatch) })*
    };
}

impl<'m, 't, 'a> serde::Serializer for KeyFinder<'m, 't, 'a> {
    type Ok = usize;
    type Error = Mismatch;
    type SerializeSeq = serde::ser::Impossible<usize, Mismatch>;
    type SerializeTuple = serde::ser::Impossible<usize, Mismatch>;
    type SerializeTupleStruct = serde::ser::Impossible<usize, Mismatch>;
    type SerializeTupleVariant = serde::ser::Impossible<usize, Mismatch>;
    type SerializeMap = serde::ser::Impossible<usize, Mismatch>;
    type SerializeStruct = serde::ser::Impossible<usize, Mismatch>;
    type SerializeStructVariant = serde::ser::Impossible<usize, Mismatch>;

    fn serialize_str(self, name: &str) -> Result<usize, Mismatch> {
        self.0.find(name)
    }

    mismatch! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32);
        serialize_u64(u64); serialize_f32(f32); serialize_f64(f64); serialize_char(char);
        serialize_bytes(&[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<usize, Mismatch> {
        Err(Mismatch)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<usize, Mismatch> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<usize, Mismatch> {
        Err(Mismatch)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Mismatch> {
        Err(Mismatch)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Mismatch> {
        Err(Mismatch)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Mismatch> {
        Err(Mismatch)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Mismatch> {
        Err(Mismatch)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Mismatch> {
        Err(Mismatch)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Mismatch> {
        Err(Mismatch)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Mismatch> {
        Err(Mismatch)
    }
}

impl<'t, 'a> serde::Serializer for Matcher<'t, 'a> {
    type Ok = ();
    type Error = Mismatch;
    type SerializeSeq = ArrayMatcher<'t, 'a>;
    type SerializeTuple = ArrayMatcher<'t, 'a>;
    type SerializeTupleStruct = ArrayMatcher<'t, 'a>;
    type SerializeTupleVariant = ArrayMatcher<'t, 'a>;
    type SerializeMap = ObjectMatcher<'t, 'a>;
    type SerializeStruct = ObjectMatcher<'t, 'a>;
    type SerializeStructVariant = ObjectMatcher<'t, 'a>;

    fn serialize_bool(self, value: bool) -> Result<(), Mismatch> {
        self.expect(self.node().kind == if value { Kind::True } else { Kind::False })
    }
    fn serialize_i8(self, value: i8) -> Result<(), Mismatch> {
        self.integer(value.into())
    }
    fn serialize_i16(self, value: i16) -> Result<(), Mismatch> {
        self.integer(value.into())
    }
    fn serialize_i32(self, value: i32) -> Result<(), Mismatch> {
        self.integer(value.into())
    }
    fn serialize_i64(self, value: i64) -> Result<(), Mismatch> {
        self.integer(value.into())
    }
    fn serialize_u8(self, value: u8) -> Result<(), Mismatch> {
        self.integer(value.into())
    }
    fn serialize_u16(self, value: u16) -> Result<(), Mismatch> {
        self.integer(value.into())
    }
    fn serialize_u32(self, value: u32) -> Result<(), Mismatch> {
        self.integer(value.into())
    }
    fn serialize_u64(self, value: u64) -> Result<(), Mismatch> {
        self.integer(value.into())
    }
    /// [`to_vec`] refuses every float (`NotAnInteger`); a non-finite one would be `null` in a
    /// value tree, which no sverka format has, so no float is compared.
    fn serialize_f32(self, _: f32) -> Result<(), Mismatch> {
        Err(Mismatch)
    }
    fn serialize_f64(self, _: f64) -> Result<(), Mismatch> {
        Err(Mismatch)
    }
    fn serialize_char(self, value: char) -> Result<(), Mismatch> {
        self.serialize_str(value.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, value: &str) -> Result<(), Mismatch> {
        let node = self.node();
        self.expect(string_is(self.tape.text(&node), node.kind, value))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Mismatch> {
        Err(Mismatch)
    }
    fn serialize_none(self) -> Result<(), Mismatch> {
        self.expect(self.node().kind == Kind::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Mismatch> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Mismatch> {
        self.expect(self.node().kind == Kind::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Mismatch> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Mismatch> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Mismatch> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Mismatch> {
        value.serialize(self.variant(variant)?)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<ArrayMatcher<'t, 'a>, Mismatch> {
        self.array(len)
    }
    fn serialize_tuple(self, len: usize) -> Result<ArrayMatcher<'t, 'a>, Mismatch> {
        self.array(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<ArrayMatcher<'t, 'a>, Mismatch> {
        self.array(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<ArrayMatcher<'t, 'a>, Mismatch> {
        self.variant(variant)?.array(Some(len))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<ObjectMatcher<'t, 'a>, Mismatch> {
        self.object()
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<ObjectMatcher<'t, 'a>, Mismatch> {
        self.object()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<ObjectMatcher<'t, 'a>, Mismatch> {
        self.variant(variant)?.object()
    }
}

impl serde::ser::SerializeSeq for ArrayMatcher<'_, '_> {
    type Ok = ();
    type Error = Mismatch;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Mismatch> {
        self.element(value)
    }
    fn end(self) -> Result<(), Mismatch> {
        self.finish()
    }
}

impl serde::ser::SerializeTuple for ArrayMatcher<'_, '_> {
    type Ok = ();
    type Error = Mismatch;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Mismatch> {
        self.element(value)
    }
    fn end(self) -> Result<(), Mismatch> {
        self.finish()
    }
}

impl serde::ser::SerializeTupleStruct for ArrayMatcher<'_, '_> {
    type Ok = ();
    type Error = Mismatch;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Mismatch> {
        self.element(value)
    }
    fn end(self) -> Result<(), Mismatch> {
        self.finish()
    }
}

impl serde::ser::SerializeTupleVariant for ArrayMatcher<'_, '_> {
    type Ok = ();
    type Error = Mismatch;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Mismatch> {
        self.element(value)
    }
    fn end(self) -> Result<(), Mismatch> {
        self.finish()
    }
}

impl serde::ser::SerializeMap for ObjectMatcher<'_, '_> {
    type Ok = ();
    type Error = Mismatch;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Mismatch> {
        if self.next.is_some() {
            return Err(Mismatch);
        }
        self.next = Some(key.serialize(KeyFinder(self))?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Mismatch> {
        let member = self.next.take().ok_or(Mismatch)?;
        self.value(member, value)
    }
    fn end(self) -> Result<(), Mismatch> {
        self.finish()
    }
}

impl serde::ser::SerializeStruct for ObjectMatcher<'_, '_> {
    type Ok = ();
    type Error = Mismatch;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Mismatch> {
        self.field(name, value)
    }
    fn end(self) -> Result<(), Mismatch> {
        self.finish()
    }
}

impl serde::ser::SerializeStructVariant for ObjectMatcher<'_, '_> {
    type Ok = ();
    type Error = Mismatch;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Mismatch> {
        self.field(name, value)
    }
    fn end(self) -> Result<(), Mismatch> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_members_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"], "A": {"z": 0, "y": -3}});
        assert_eq!(value_to_vec(&v).unwrap(), br#"{"A":{"y":-3,"z":0},"a":[true,null,"x"],"b":1}"#);
    }

    #[test]
    fn escapes_like_json_stringify() {
        let v = json!("q\"b\\\u{1}\n\u{7f}é/");
        assert_eq!(value_to_vec(&v).unwrap(), "\"q\\\"b\\\\\\u0001\\n\u{7f}é/\"".as_bytes());
    }

    #[test]
    fn sorts_by_utf16_code_units_not_bytes() {
        // U+FF61 sorts after U+1F600 in UTF-8 byte order but before it in UTF-16 (RFC 8785 §3.2.3).
        let v = json!({"\u{1F600}": 1, "\u{FF61}": 2});
        let out = String::from_utf8(value_to_vec(&v).unwrap()).unwrap();
        assert_eq!(out, "{\"\u{1F600}\":1,\"\u{FF61}\":2}");
    }

    /// The oracle: encode and compare, as decoding did before [`is_encoding_of`].
    fn encodes_to<T: Serialize>(value: &T, bytes: &[u8]) -> bool {
        to_vec(value).ok().as_deref() == Some(bytes)
    }

    #[derive(Serialize, serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        counts: std::collections::BTreeMap<String, u64>,
    }

    #[derive(Serialize, serde::Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum Source {
        Machine,
        Manual,
    }

    #[derive(Serialize, serde::Deserialize, Debug)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Body {
        Count { source: Source, n: i64, inner: Inner, list: Vec<String> },
        Other(Inner),
    }

    #[derive(Serialize, serde::Deserialize, Debug)]
    struct Outer {
        v: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<String>,
        #[serde(flatten)]
        body: Body,
    }

    #[test]
    fn the_one_pass_check_agrees_with_encoding_on_serde_variants() {
        let good = r#"{"inner":{"counts":{"\u0001":2,"a":1},"id":"x\n\"é"},"list":["p","q"],"n":-5,"source":"machine","type":"count","v":1}"#;
        let variants = [
            good.to_string(),
            good.replacen("{\"inner", "{\"time\":null,\"inner", 1),
            good.replacen("\"type\"", "\"time\":null,\"type\"", 1),
            good.replacen("\"type\"", "\"time\":\"t\",\"type\"", 1),
            good.replacen("\"id\":", "\"id\":\"y\",\"id\":", 1),
            good.replacen("\"id\":\"x", "\"id\":\"\\u0078", 1),
            good.replacen("\"machine\"", "{\"machine\":null}", 1),
            good.replacen("\"machine\"", "{\"machine\":{}}", 1),
            good.replacen("\"count\"", "0", 1),
            good.replacen("\"n\":-5", "\"n\":-0", 1),
            good.replacen("\"n\":-5", "\"n\":-5.0", 1),
            good.replacen("\"n\":-5", "\"n\":-05", 1),
            good.replacen("\"n\":-5", "\"n\":-9007199254740992", 1),
            good.replacen("\"n\":-5", "\"n\":-9007199254740991", 1),
            good.replacen("\"\\u0001\":2,\"a\":1", "\"a\":1,\"\\u0001\":2", 1),
            good.replacen("\"counts\":{\"\\u0001\":2,\"a\":1},", "\"counts\":{},", 1),
            good.replacen("\"counts\":{\"\\u0001\":2,\"a\":1},", "", 1),
            good.replacen(
                "{\"counts\":{\"\\u0001\":2,\"a\":1},\"id\":\"x\\n\\\"é\"}",
                "[\"z\"]",
                1,
            ),
            good.replacen("\\n", "\\u000a", 1),
            good.replacen("é", "\\u00e9", 1),
            good.replacen("[\"p\",\"q\"]", "[\"p\"]", 1),
            good.replacen("[\"p\",\"q\"]", "[]", 1),
            format!("{good} "),
        ];
        let mut accepted = 0;
        for text in &variants {
            let Ok(outer) = serde_json::from_str::<Outer>(text) else { continue };
            let expected = encodes_to(&outer, text.as_bytes());
            assert_eq!(is_encoding_of(&outer, text.as_bytes()), expected, "{text}");
            accepted += usize::from(expected);
        }
        // The original, with a time, with the most negative safe integer, without the empty
        // `counts`, with a shorter and an empty list.
        assert_eq!(accepted, 6);
    }

    #[test]
    fn the_one_pass_check_agrees_with_encoding_on_values() {
        let texts = [
            r#"{"A":{"y":-3,"z":0},"a":[true,null,"x"],"b":1}"#,
            r#"{"a":[true,null,"x"],"A":{"y":-3,"z":0},"b":1}"#,
            "{\"\u{1F600}\":1,\"\u{FF61}\":2}",
            "{\"\u{FF61}\":2,\"\u{1F600}\":1}",
            r#""\u001f\u007f""#,
            "\"\\u001f\u{7f}\"",
            r#"[1,[2,[3,{}]],""]"#,
            r#"[1, 2]"#,
            r#"{"a":1,"a":1}"#,
            "9007199254740991",
            "9007199254740992",
            "1e2",
            "\"\\/\"",
        ];
        for text in texts {
            let Ok(value) = serde_json::from_str::<Value>(text) else { continue };
            let expected = encodes_to(&value, text.as_bytes());
            assert_eq!(is_encoding_of(&value, text.as_bytes()), expected, "{text}");
        }
        assert!(is_encoding_of(
            &json!({"b": [1, {"c": null}], "a": "\u{1}"}),
            br#"{"a":"\u0001","b":[1,{"c":null}]}"#
        ));
    }

    #[test]
    fn refuses_fractions_and_unsafe_integers() {
        assert!(matches!(value_to_vec(&json!(1.5)), Err(CanonicalError::NotAnInteger(_))));
        assert!(matches!(value_to_vec(&json!(1u64 << 53)), Err(CanonicalError::OutOfRange(_))));
        assert_eq!(value_to_vec(&json!(9007199254740991u64)).unwrap(), b"9007199254740991");
    }
}
