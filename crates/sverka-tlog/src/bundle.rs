//! C2SP tlog-tiles v1 entry bundles (§"Log entries"): a sequence of entries, each a big-endian
//! u16 length followed by that many bytes, at most 256 per bundle; and the incremental update of
//! the right-edge bundle when entries are appended.

use crate::tile::{new_entry_bundles, EntryBundle, TILE_HEIGHT, TILE_WIDTH};

/// The largest entry a bundle can hold (the length prefix is a u16).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Why a bundle could not be built or parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum BundleError {
    /// An entry is longer than 65,535 bytes.
    #[error("entry {position} is {len} bytes, more than 65535")]
    EntryTooLarge { position: usize, len: usize },
    /// A bundle holds no entries (tlog-tiles: empty tiles must not be served).
    #[error("entry bundle is empty")]
    Empty,
    /// A bundle would hold more than 256 entries.
    #[error("entry bundle has more than 256 entries")]
    TooManyEntries,
    /// The bytes end inside a length prefix or an entry.
    #[error("entry bundle is truncated in entry {position}")]
    Truncated { position: usize },
    /// The number of entries differs from the bundle's width.
    #[error("entry bundle {path} has {count} entries, expected {expected}")]
    WrongWidth { path: String, count: usize, expected: u16 },
}

/// Encodes entries as a bundle: `u16_be(len) ‖ bytes` for each (tlog-tiles §"Log entries").
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, BundleError> {
    if entries.is_empty() {
        return Err(BundleError::Empty);
    }
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(BundleError::TooManyEntries);
    }
    let total: usize = entries.iter().map(|e| e.as_ref().len() + 2).sum();
    let mut out = Vec::with_capacity(total);
    for (position, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len())
            .map_err(|_| BundleError::EntryTooLarge { position, len: entry.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Parses a bundle strictly: 1 to 256 entries, every length prefix complete, no bytes left over.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let position = entries.len();
        if position == usize::from(TILE_WIDTH) {
            return Err(BundleError::TooManyEntries);
        }
        let Some((prefix, after)) = rest.split_first_chunk::<2>() else {
            return Err(BundleError::Truncated { position });
        };
        let len = usize::from(u16::from_be_bytes(*prefix));
        if after.len() < len {
            return Err(BundleError::Truncated { position });
        }
        let (entry, after) = after.split_at(len);
        entries.push(entry);
        rest = after;
    }
    if entries.is_empty() {
        return Err(BundleError::Empty);
    }
    Ok(entries)
}

/// Parses the bytes served for `bundle`, which must hold exactly `bundle.width()` entries.
pub fn parse_bundle_for<'a>(
    bundle: &EntryBundle,
    bytes: &'a [u8],
) -> Result<Vec<&'a [u8]>, BundleError> {
    let entries = parse_bundle(bytes)?;
    if entries.len() != usize::from(bundle.width()) {
        return Err(BundleError::WrongWidth {
            path: bundle.path(),
            count: entries.len(),
            expected: bundle.width(),
        });
    }
    Ok(entries)
}

/// The bundles to write after appending `new_entries` to a log of `old_size` entries, with their
/// bytes. `right_edge` is the content of the old partial bundle (its entries in order), empty when
/// `old_size` is a multiple of 256; every completed bundle and the new partial one are returned.
pub fn append_to_bundles<E: AsRef<[u8]>>(
    old_size: u64,
    right_edge: &[E],
    new_entries: &[E],
) -> Result<Vec<(EntryBundle, Vec<u8>)>, BundleError> {
    let edge_len = (old_size % u64::from(TILE_WIDTH)) as usize;
    if right_edge.len() != edge_len {
        return Err(BundleError::WrongWidth {
            path: format!("tile/entries/ right edge of size {old_size}"),
            count: right_edge.len(),
            expected: edge_len as u16,
        });
    }
    let new_size = old_size + new_entries.len() as u64;
    let all: Vec<&[u8]> = right_edge.iter().chain(new_entries).map(AsRef::as_ref).collect();
    let first_index = old_size >> TILE_HEIGHT;
    new_entry_bundles(old_size, new_size)
        .into_iter()
        .map(|bundle| {
            let offset = ((bundle.index() - first_index) << TILE_HEIGHT) as usize;
            let entries = &all[offset..offset + usize::from(bundle.width())];
            encode_bundle(entries).map(|bytes| (bundle, bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_round_trip_and_reject_malformed_bytes() {
        let entries: Vec<&[u8]> = vec![b"", b"a", &[7u8; 300]];
        let bytes = encode_bundle(&entries).unwrap();
        assert_eq!(&bytes[..5], &[0, 0, 0, 1, b'a']);
        assert_eq!(parse_bundle(&bytes).unwrap(), entries);
        assert_eq!(
            parse_bundle(&bytes[..bytes.len() - 1]),
            Err(BundleError::Truncated { position: 2 })
        );
        assert_eq!(parse_bundle(&[0]), Err(BundleError::Truncated { position: 0 }));
        assert_eq!(parse_bundle(&[]), Err(BundleError::Empty));
        assert_eq!(parse_bundle(&[0u8; 514]), Err(BundleError::TooManyEntries));
        assert_eq!(parse_bundle(&[0u8; 512]).unwrap().len(), 256);
        let too_big = vec![0u8; MAX_ENTRY_SIZE + 1];
        assert_eq!(
            encode_bundle(&[too_big]),
            Err(BundleError::EntryTooLarge { position: 0, len: 65536 })
        );
    }

    #[test]
    fn appending_rewrites_only_the_right_edge_bundles() {
        let entry = |i: u64| i.to_string().into_bytes();
        let old: Vec<Vec<u8>> = (256..300).map(entry).collect();
        let new: Vec<Vec<u8>> = (300..600).map(entry).collect();
        let written = append_to_bundles(300, &old, &new).unwrap();
        let paths: Vec<String> = written.iter().map(|(b, _)| b.path()).collect();
        assert_eq!(paths, ["tile/entries/001", "tile/entries/002.p/88"]);
        let second = parse_bundle_for(&written[1].0, &written[1].1).unwrap();
        assert_eq!(second[0], b"512");
        assert_eq!(second[87], b"599");
    }
}
