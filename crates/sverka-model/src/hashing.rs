//! Readers and writers that hash (SHA-256) the bytes they pass on, for files pinned by their
//! digest: an election cache read or written by `sverka verify --state` and by a data directory
//! (`sverka-store`'s cached election), the verifier's tally base. No I/O of their own: they wrap
//! whatever `Read` or `Write` the caller opened.

use std::io::{ErrorKind, Read, Write};

use sha2::{Digest, Sha256};

/// A reader that hashes what it passes on. A read error is kept (see [`HashingReader::failed`])
/// and ends the bytes there: the reader's user sees them end, and its caller reports the error.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    failed: Option<std::io::Error>,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader { inner, hasher: Sha256::new(), failed: None }
    }

    /// Reads and hashes what is left, then gives the SHA-256 of every byte read, or the read
    /// error that ended the bytes early.
    pub fn finish(mut self) -> Result<[u8; 32], std::io::Error> {
        let _ = std::io::copy(&mut self, &mut std::io::sink());
        match self.failed {
            Some(error) => Err(error),
            None => Ok(self.hasher.finalize().into()),
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.failed.is_some() {
            return Ok(0);
        }
        loop {
            match self.inner.read(buffer) {
                Ok(n) => {
                    self.hasher.update(&buffer[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failed = Some(e);
                    return Ok(0);
                }
            }
        }
    }
}

/// A writer that hashes what it passes on.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter { inner, hasher: Sha256::new() }
    }

    /// The writer and the SHA-256 of every byte written through it (not flushed: the caller
    /// flushes and syncs as its file needs).
    pub fn finish(self) -> (W, [u8; 32]) {
        (self.inner, self.hasher.finalize().into())
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What passes through either way hashes to the SHA-256 of the bytes, however it is cut.
    #[test]
    fn the_digest_is_of_every_byte_passed_on() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let expected: [u8; 32] = Sha256::digest(&bytes).into();

        let mut reader = HashingReader::new(&bytes[..]);
        let mut first = [0u8; 1000];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(&first[..], &bytes[..1000]);
        assert_eq!(reader.finish().unwrap(), expected, "the rest is read and hashed by finish");

        let mut writer = HashingWriter::new(Vec::new());
        for chunk in bytes.chunks(333) {
            writer.write_all(chunk).unwrap();
        }
        let (written, digest) = writer.finish();
        assert_eq!(written, bytes);
        assert_eq!(digest, expected);
    }

    /// A read error ends the bytes and is what `finish` gives back.
    #[test]
    fn a_read_error_ends_the_bytes_and_is_reported() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("the disk is gone"))
            }
        }
        let mut reader = HashingReader::new(Failing);
        assert_eq!(reader.read(&mut [0u8; 16]).unwrap(), 0);
        assert_eq!(reader.finish().unwrap_err().to_string(), "the disk is gone");
    }
}
