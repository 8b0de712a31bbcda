//! Which text encoding a CSV file is in, told from its first bytes, and decoding it to
//! UTF-8 chunk by chunk. Chinese Excel saves "CSV" as GBK unless told otherwise, newer
//! versions as UTF-8 with a BOM, and some tools as UTF-16; all must import the same.

use encoding_rs::{Decoder, Encoding, GB18030, UTF_8, UTF_16BE, UTF_16LE};

/// Bytes looked at before deciding (the decision is final for the file).
pub const SNIFF_BYTES: usize = 64 * 1024;

/// An encoding as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    /// GBK, read as GB18030 (its superset), so every GBK file decodes the same.
    Gbk,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with BOM",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
            TextEncoding::Gbk => "GBK",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => UTF_8,
            TextEncoding::Utf16Le => UTF_16LE,
            TextEncoding::Utf16Be => UTF_16BE,
            TextEncoding::Gbk => GB18030,
        }
    }
}

/// Decides from the file's first bytes (`complete`: these are all of them). A BOM
/// decides; else text that is valid UTF-8 is UTF-8 (a multi-byte character cut at the
/// end of the sample does not count against it); else GBK.
pub fn detect(prefix: &[u8], complete: bool) -> TextEncoding {
    if prefix.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return TextEncoding::Utf8Bom;
    }
    if prefix.starts_with(&[0xFF, 0xFE]) {
        return TextEncoding::Utf16Le;
    }
    if prefix.starts_with(&[0xFE, 0xFF]) {
        return TextEncoding::Utf16Be;
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => TextEncoding::Utf8,
        // `error_len() == None`: the sample ends inside a character.
        Err(e) if e.error_len().is_none() && !complete => TextEncoding::Utf8,
        Err(_) => TextEncoding::Gbk,
    }
}

/// Turns the file's bytes into UTF-8 text as they arrive; a character split across two
/// chunks is kept until the next one. Bytes invalid in the encoding become U+FFFD.
pub struct TextDecoder {
    decoder: Decoder,
    pub encoding: TextEncoding,
}

impl TextDecoder {
    pub fn new(encoding: TextEncoding) -> TextDecoder {
        // The BOM is removed by the decoder (it sniffs and drops it).
        TextDecoder {
            decoder: encoding.encoding().new_decoder_with_bom_removal(),
            encoding,
        }
    }

    pub fn decode(&mut self, bytes: &[u8], last: bool) -> String {
        let capacity = self
            .decoder
            .max_utf8_buffer_length(bytes.len())
            .unwrap_or(bytes.len() * 3 + 16);
        let mut text = String::with_capacity(capacity);
        // With the capacity reserved above the decoder consumes all input in one call.
        let (_, _, _) = self.decoder.decode_to_string(bytes, &mut text, last);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_chunks(bytes: &[u8], chunk: usize) -> (TextEncoding, String) {
        let encoding = detect(&bytes[..bytes.len().min(SNIFF_BYTES)], true);
        let mut decoder = TextDecoder::new(encoding);
        let mut text = String::new();
        let chunks: Vec<&[u8]> = bytes.chunks(chunk).collect();
        for (i, part) in chunks.iter().enumerate() {
            text.push_str(&decoder.decode(part, i + 1 == chunks.len()));
        }
        (encoding, text)
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let plain = "姓名,电话\n张三,13800138000\n";
        assert_eq!(
            decode_in_chunks(plain.as_bytes(), 5),
            (TextEncoding::Utf8, plain.into())
        );
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(plain.as_bytes());
        assert_eq!(
            decode_in_chunks(&bom, 4),
            (TextEncoding::Utf8Bom, plain.into())
        );
    }

    #[test]
    fn gbk_is_recognised_and_decoded_across_chunk_boundaries() {
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,公司\n张三,华为技术有限公司\n");
        for chunk in [1, 3, 7, 1000] {
            let (encoding, text) = decode_in_chunks(&gbk, chunk);
            assert_eq!(encoding, TextEncoding::Gbk);
            assert_eq!(text, "姓名,公司\n张三,华为技术有限公司\n");
        }
    }

    #[test]
    fn a_utf8_character_cut_by_the_sample_is_still_utf8() {
        let text = "名".as_bytes();
        assert_eq!(detect(&text[..2], false), TextEncoding::Utf8);
        assert_eq!(detect(&text[..2], true), TextEncoding::Gbk);
    }

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "名,x\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(
            decode_in_chunks(&bytes, 3),
            (TextEncoding::Utf16Le, "名,x\n".into())
        );
    }
}
