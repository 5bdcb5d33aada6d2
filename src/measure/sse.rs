//! Incremental Server-Sent Events parser.
//!
//! The client feeds it the body bytes exactly as they arrive from the socket, however they are split;
//! it yields each dispatched event (type + data) following the WHATWG "event stream interpretation"
//! rules: lines end in CRLF, LF or CR; `data:` lines are joined with `\n`; a blank line dispatches;
//! comments (`:`) and unknown fields are ignored; a leading BOM is skipped. At end of stream, an
//! unterminated event is discarded, as the specification says. `client.rs` feeds it and hands each
//! event to `chat.rs`, which reads it as a chat-completion event.

use thiserror::Error;

/// Largest single event (or line) accepted, so a hostile or broken server cannot grow memory without
/// bound. Far above any real chat chunk.
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One dispatched event. `event` is `"message"` unless the stream named another type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    pub event: &'a str,
    pub data: &'a [u8],
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SseError {
    #[error("an SSE event exceeded {MAX_EVENT_BYTES} bytes")]
    EventTooLarge,
}

#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    event_type: String,
    /// The previous byte was a CR, so an LF right after it belongs to the same line ending.
    after_cr: bool,
    /// Bytes seen so far, to strip a BOM only at the very start.
    started: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the body, calling `on_event` for every event they complete.
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        mut on_event: impl FnMut(Event<'_>),
    ) -> Result<(), SseError> {
        if !self.started {
            // A BOM may itself be split across reads; wait until 3 bytes are known.
            let have = self.line.len() + bytes.len();
            if have < 3 && b"\xEF\xBB\xBF".starts_with(&[self.line.as_slice(), bytes].concat()) {
                self.line.extend_from_slice(bytes);
                return Ok(());
            }
            self.started = true;
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(bytes);
            let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head).to_vec();
            return self.feed(&head, on_event);
        }
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', bytes) {
                Some(end) => {
                    self.after_cr = bytes[end] == b'\r';
                    if self.line.is_empty() {
                        // A whole line in this read: taken from it, not copied.
                        if end > MAX_EVENT_BYTES {
                            return Err(SseError::EventTooLarge);
                        }
                        self.line_ended(&bytes[..end], &mut on_event)?;
                    } else {
                        self.push_line_bytes(&bytes[..end])?;
                        let line = std::mem::take(&mut self.line);
                        let ended = self.line_ended(&line, &mut on_event);
                        // Reuse the allocation for the next split line.
                        self.line = line;
                        self.line.clear();
                        ended?;
                    }
                    bytes = &bytes[end + 1..];
                }
                None => {
                    self.push_line_bytes(bytes)?;
                    bytes = &[];
                }
            }
        }
        Ok(())
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > MAX_EVENT_BYTES {
            return Err(SseError::EventTooLarge);
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn line_ended(
        &mut self,
        line: &[u8],
        on_event: &mut impl FnMut(Event<'_>),
    ) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(on_event);
        } else if line[0] != b':' {
            let (field, value) = match memchr::memchr(b':', line) {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (line, &[][..]),
            };
            match field {
                b"data" => {
                    if self.data.len() + value.len() + 1 > MAX_EVENT_BYTES {
                        return Err(SseError::EventTooLarge);
                    }
                    self.data.extend_from_slice(value);
                    self.data.push(b'\n');
                    self.has_data = true;
                }
                b"event" => {
                    // Into the kept String: no allocation per event for APIs that name each one.
                    self.event_type.clear();
                    self.event_type.push_str(&String::from_utf8_lossy(value));
                }
                _ => {} // id, retry and unknown fields do not affect timing or content
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(Event<'_>)) {
        if self.has_data {
            self.data.pop(); // the trailing '\n' added after the last data line
            let event = if self.event_type.is_empty() {
                "message"
            } else {
                &self.event_type
            };
            on_event(Event {
                event,
                data: &self.data,
            });
        }
        self.data.clear();
        self.has_data = false;
        self.event_type.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<(String, String)> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, |e| {
                out.push((
                    e.event.to_string(),
                    String::from_utf8_lossy(e.data).into_owned(),
                ))
            })
            .unwrap();
        }
        out
    }

    fn msgs(v: &[&str]) -> Vec<(String, String)> {
        v.iter()
            .map(|d| ("message".to_string(), d.to_string()))
            .collect()
    }

    #[test]
    fn basic_lf_events() {
        let got = parse_all(&[b"data: a\n\ndata: b\n\n"]);
        assert_eq!(got, msgs(&["a", "b"]));
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        assert_eq!(parse_all(&[b"data: a\r\n\r\n"]), msgs(&["a"]));
        assert_eq!(parse_all(&[b"data: a\r\rdata: b\r\r"]), msgs(&["a", "b"]));
    }

    #[test]
    fn crlf_split_across_reads_is_one_line_ending() {
        assert_eq!(
            parse_all(&[b"data: a\r", b"\n", b"\r", b"\n"]),
            msgs(&["a"])
        );
    }

    #[test]
    fn multiline_data_joined_with_newline() {
        assert_eq!(
            parse_all(&[b"data: a\ndata:b\ndata\n\n"]),
            msgs(&["a\nb\n"])
        );
    }

    #[test]
    fn comments_ids_and_event_types() {
        let got = parse_all(&[b": keepalive\n\nid: 7\nevent: error\ndata: x\n\ndata: y\n\n"]);
        assert_eq!(
            got,
            vec![
                ("error".to_string(), "x".to_string()),
                ("message".to_string(), "y".to_string())
            ]
        );
    }

    #[test]
    fn only_one_leading_space_is_stripped() {
        assert_eq!(parse_all(&[b"data:  two\n\n"]), msgs(&[" two"]));
    }

    #[test]
    fn bom_is_skipped_even_when_split() {
        assert_eq!(
            parse_all(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"]),
            msgs(&["a"])
        );
    }

    #[test]
    fn unterminated_event_is_not_dispatched() {
        assert_eq!(parse_all(&[b"data: a\n\ndata: b\n"]), msgs(&["a"]));
    }

    #[test]
    fn oversized_line_is_an_error_not_unbounded_memory() {
        let mut p = SseParser::new();
        let big = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert_eq!(p.feed(&big, |_| {}), Err(SseError::EventTooLarge));
        // A whole line in one read is held to the same bound, whatever its field.
        let mut whole = b":".to_vec();
        whole.extend(vec![b'x'; MAX_EVENT_BYTES]);
        whole.push(b'\n');
        assert_eq!(
            SseParser::new().feed(&whole, |_| {}),
            Err(SseError::EventTooLarge)
        );
    }

    proptest::proptest! {
        /// Any split of a valid stream into reads parses to the same events.
        #[test]
        fn any_split_parses_the_same(cuts in proptest::collection::vec(0usize..200, 0..12), crlf in proptest::bool::ANY) {
            let sep = if crlf { "\r\n" } else { "\n" };
            let text: String = (0..6).map(|i| format!("data: {{\"i\":{i}}}{sep}: c{sep}{sep}")).collect::<String>() + "data: [DONE]" + sep + sep;
            let bytes = text.as_bytes();
            let whole = parse_all(&[bytes]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for c in cuts { pieces.push(&bytes[last..c]); last = c; }
            pieces.push(&bytes[last..]);
            proptest::prop_assert_eq!(parse_all(&pieces), whole.clone());
            proptest::prop_assert_eq!(whole.len(), 7);
        }
    }
}
