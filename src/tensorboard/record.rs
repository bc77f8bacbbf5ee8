//! TFRecord framing: `u64 length, u32 masked crc32c(length), data, u32 masked crc32c(data)`,
//! little-endian. Every CRC is checked.

/// How one record read from a buffer turned out.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed<'a> {
    /// A whole record whose CRCs match; `next` is where the following record starts.
    Record {
        /// The record's bytes (an `Event` protobuf), its checksum verified.
        data: &'a [u8],
        /// Offset of the next record.
        next: usize,
    },
    /// The payload's CRC does not match; the record is skipped.
    BadData {
        /// Offset of the next record.
        next: usize,
    },
    /// The length's CRC does not match: the rest of the file cannot be framed.
    BadLength,
    /// The buffer ends inside a record (a file still being written, or cut short).
    Incomplete,
}

/// Longest record taken: a length past this is damage (or a hostile file), never a
/// reason to wait for more bytes.
pub const MAX_RECORD: u64 = 256 << 20;

/// Reads the record starting at `at` in `buf`.
pub fn read_record(buf: &[u8], at: usize) -> Framed<'_> {
    let Some(header) = buf.get(at..at + 12) else {
        return Framed::Incomplete;
    };
    let (len_bytes, len_crc) = header.split_at(8);
    if masked_crc(len_bytes) != u32::from_le_bytes([len_crc[0], len_crc[1], len_crc[2], len_crc[3]])
    {
        return Framed::BadLength;
    }
    let len = u64::from_le_bytes(len_bytes.try_into().unwrap_or([0; 8]));
    if len > MAX_RECORD {
        return Framed::BadLength;
    }
    let Ok(len) = usize::try_from(len) else {
        return Framed::BadLength;
    };
    let start = at + 12;
    let Some(end) = start.checked_add(len) else {
        return Framed::BadLength;
    };
    let (Some(data), Some(crc)) = (buf.get(start..end), buf.get(end..end + 4)) else {
        return Framed::Incomplete;
    };
    let next = end + 4;
    if masked_crc(data) == u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        Framed::Record { data, next }
    } else {
        Framed::BadData { next }
    }
}

/// TFRecord's masked CRC32C.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Frames `data` as one record (for tests and fixtures written from Rust).
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_detected() {
        let mut buf = frame(b"hello");
        buf.extend(frame(b"world"));
        let Framed::Record { data, next } = read_record(&buf, 0) else {
            panic!("first record");
        };
        assert_eq!(data, b"hello");
        assert_eq!(
            read_record(&buf, next),
            Framed::Record {
                data: b"world",
                next: buf.len()
            }
        );
        assert_eq!(read_record(&buf, buf.len()), Framed::Incomplete);
        assert_eq!(read_record(&buf[..buf.len() - 1], next), Framed::Incomplete);

        let mut bad_data = buf.clone();
        bad_data[13] ^= 1;
        assert_eq!(read_record(&bad_data, 0), Framed::BadData { next });
        let mut bad_len = buf;
        bad_len[0] ^= 1;
        assert_eq!(read_record(&bad_len, 0), Framed::BadLength);
    }

    #[test]
    fn a_lying_length_with_a_good_crc_is_refused() {
        // A hostile file: the length's CRC matches, the length is 2^63.
        let len = (1u64 << 63).to_le_bytes();
        let mut buf = len.to_vec();
        buf.extend_from_slice(&masked_crc(&len).to_le_bytes());
        buf.extend_from_slice(b"tiny");
        assert_eq!(read_record(&buf, 0), Framed::BadLength);
        let len = (MAX_RECORD + 1).to_le_bytes();
        let mut buf = len.to_vec();
        buf.extend_from_slice(&masked_crc(&len).to_le_bytes());
        assert_eq!(read_record(&buf, 0), Framed::BadLength);
        // A plausible length past the end is a record still being written.
        let len = 100u64.to_le_bytes();
        let mut buf = len.to_vec();
        buf.extend_from_slice(&masked_crc(&len).to_le_bytes());
        assert_eq!(read_record(&buf, 0), Framed::Incomplete);
    }
}
