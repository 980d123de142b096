//! The load generator's HTTP/1.1 client: one keep-alive connection sending GET requests whose
//! bytes were built before the run, and reading each answer just far enough to know its status
//! and where it ends (`Content-Length`, chunked, or the connection closing).
//!
//! It exists so that the generator costs the machine as little as possible per request (no URL
//! parsing, header maps or allocations on the hot path) and so that what it measures is the
//! server's answer, not a general-purpose client's work. It is not a general client: no TLS, no
//! redirects, no pipelining; a request body only as prebuilt JSON ([`Target::post_json`]), and
//! an answer's body only when asked for ([`Connection::receive_body`]).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where a base URL such as `http://127.0.0.1:8090/prefix` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` as written, for the `Host` header and for resolving.
    pub authority: String,
    /// Prepended to every request path (empty, or `/prefix` without a trailing slash).
    pub prefix: String,
}

impl Target {
    /// Parses a plain-HTTP base URL.
    pub fn parse(base_url: &str) -> anyhow::Result<Target> {
        let rest = base_url.strip_prefix("http://").ok_or_else(|| {
            anyhow::anyhow!("--base-url {base_url:?}: the load generator speaks plain http://")
        })?;
        let (authority, prefix) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
            None => (rest, ""),
        };
        anyhow::ensure!(!authority.is_empty(), "--base-url {base_url:?}: no host");
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            authority,
            prefix: prefix.to_string(),
        })
    }

    /// The bytes of `GET <prefix><path>`, ready to write.
    pub fn get(&self, path: &str) -> Box<[u8]> {
        format!(
            "GET {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: disco-bench\r\nAccept: */*\r\n\r\n",
            self.prefix, self.authority
        )
        .into_bytes()
        .into_boxed_slice()
    }

    /// The bytes of `POST <prefix><path>` carrying `body` as JSON, ready to write.
    pub fn post_json(&self, path: &str, body: &str) -> Box<[u8]> {
        format!(
            "POST {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: disco-bench\r\nAccept: */*\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.prefix,
            self.authority,
            body.len()
        )
        .into_bytes()
        .into_boxed_slice()
    }
}

/// How far the bytes read so far go in one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// The whole answer is in the first `len` bytes.
    Complete {
        status: u16,
        len: usize,
        close: bool,
    },
    /// The body runs until the server closes the connection (no length given).
    UntilClose { status: u16 },
}

/// Reads how much of `buf` one answer takes. Errors on what is not an HTTP/1.x answer.
pub fn parse(buf: &[u8]) -> io::Result<Parsed> {
    let Some(head_end) = find(buf, b"\r\n\r\n", 0).map(|at| at + 4) else {
        if buf.len() > 64 * 1024 {
            return Err(bad("an answer head over 64 KB"));
        }
        return Ok(Parsed::Incomplete);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("a head not in UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.split(' ');
    let version = words.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x answer"));
    }
    let status: u16 = words
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| bad("a bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    if status < 200 || status == 204 || status == 304 {
        return Ok(Parsed::Complete {
            status,
            len: head_end,
            close,
        });
    }
    if chunked {
        return Ok(match chunked_end(buf, head_end, |_| {})? {
            Some(len) => Parsed::Complete { status, len, close },
            None => Parsed::Incomplete,
        });
    }
    match length {
        Some(n) if buf.len() >= head_end + n => Ok(Parsed::Complete {
            status,
            len: head_end + n,
            close,
        }),
        Some(_) => Ok(Parsed::Incomplete),
        None => Ok(Parsed::UntilClose { status }),
    }
}

/// Where a chunked body starting at `from` ends (after its trailers), if it is all in `buf`;
/// each chunk's data is handed to `data` on the way.
fn chunked_end(
    buf: &[u8],
    mut from: usize,
    mut data: impl FnMut(&[u8]),
) -> io::Result<Option<usize>> {
    loop {
        let Some(line_end) = find(buf, b"\r\n", from) else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[from..line_end]).map_err(|_| bad("a bad chunk"))?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("a bad chunk size"))?;
        from = line_end + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(end) = find(buf, b"\r\n", from) else {
                    return Ok(None);
                };
                let empty = end == from;
                from = end + 2;
                if empty {
                    return Ok(Some(from));
                }
            }
        }
        if buf.len() < from + size + 2 {
            return Ok(None);
        }
        data(&buf[from..from + size]);
        from += size + 2;
    }
}

/// The body of one whole answer (as [`parse`] delimited it), its chunks joined when chunked.
pub fn body(answer: &[u8]) -> io::Result<Vec<u8>> {
    let head_end = find(answer, b"\r\n\r\n", 0)
        .map(|at| at + 4)
        .ok_or_else(|| bad("an answer without a head"))?;
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    let chunked = head
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if !chunked {
        return Ok(answer[head_end..].to_vec());
    }
    let mut joined = Vec::new();
    chunked_end(answer, head_end, |chunk| joined.extend_from_slice(chunk))?
        .ok_or_else(|| bad("a chunked body cut short"))?;
    Ok(joined)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// One keep-alive connection and the bytes read past the last answer.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The server asked to close: open a new connection before the next request.
    closed: bool,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            closed: false,
        })
    }

    /// Whether the connection can carry another request.
    pub fn reusable(&self) -> bool {
        !self.closed
    }

    /// Writes `request` (whole) and returns once it is on the socket.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.stream.write_all(request).await
    }

    /// Reads one whole answer; returns its status code.
    pub async fn receive(&mut self) -> io::Result<u16> {
        self.read_answer(None).await
    }

    /// Reads one whole answer; returns its status code and its body.
    pub async fn receive_body(&mut self) -> io::Result<(u16, Vec<u8>)> {
        let mut answer = Vec::new();
        let status = self.read_answer(Some(&mut answer)).await?;
        Ok((status, body(&answer)?))
    }

    /// Reads one whole answer, copying its bytes into `keep` when given; returns its status.
    async fn read_answer(&mut self, keep: Option<&mut Vec<u8>>) -> io::Result<u16> {
        loop {
            match parse(&self.buf)? {
                Parsed::Complete { status, len, close } => {
                    if let Some(keep) = keep {
                        keep.extend_from_slice(&self.buf[..len]);
                    }
                    self.buf.drain(..len);
                    self.closed = close;
                    return Ok(status);
                }
                Parsed::UntilClose { status } => {
                    while self.fill().await? > 0 {}
                    if let Some(keep) = keep {
                        keep.append(&mut self.buf);
                    }
                    self.buf.clear();
                    self.closed = true;
                    return Ok(status);
                }
                Parsed::Incomplete => {
                    if self.fill().await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
        }
    }

    async fn fill(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        self.stream.read_buf(&mut self.buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `answer`, whole, read as one complete answer.
    fn whole(status: u16, answer: &[u8], close: bool) -> Parsed {
        Parsed::Complete {
            status,
            len: answer.len(),
            close,
        }
    }

    #[test]
    fn base_urls_give_the_host_and_a_path_prefix() {
        let t = Target::parse("http://127.0.0.1:8090").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.prefix.as_str()),
            ("127.0.0.1:8090", "")
        );
        let t = Target::parse("http://localhost/api/").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.prefix.as_str()),
            ("localhost:80", "/api")
        );
        assert_eq!(
            &*t.get("/suggest?q=b"),
            b"GET /api/suggest?q=b HTTP/1.1\r\nHost: localhost:80\r\nUser-Agent: disco-bench\r\nAccept: */*\r\n\r\n"
        );
        assert!(Target::parse("https://example.com").is_err());
        assert!(Target::parse("http:///x").is_err());
    }

    #[test]
    fn answers_end_where_their_length_says() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1";
        assert_eq!(parse(&answer[..20]).unwrap(), Parsed::Incomplete);
        assert_eq!(parse(&answer[..40]).unwrap(), Parsed::Incomplete);
        assert_eq!(
            parse(answer).unwrap(),
            Parsed::Complete {
                status: 200,
                len: 43,
                close: false
            }
        );
        let closing =
            b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse(closing).unwrap(), whole(503, closing, true));
        let no_length = b"HTTP/1.0 200 OK\r\n\r\nbody until close";
        assert_eq!(
            parse(no_length).unwrap(),
            Parsed::UntilClose { status: 200 }
        );
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_answers_end_after_the_last_chunk_and_trailers() {
        let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n";
        for cut in 0..answer.len() {
            assert_eq!(
                parse(&answer[..cut]).unwrap(),
                Parsed::Incomplete,
                "cut {cut}"
            );
        }
        assert_eq!(parse(answer).unwrap(), whole(200, answer, false));
        let trailers = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n\r\n";
        assert_eq!(parse(trailers).unwrap(), whole(200, trailers, false));
    }

    #[test]
    fn bodies_come_whole_and_posts_carry_their_length() {
        let plain = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(body(plain).unwrap(), b"{}");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n";
        assert_eq!(body(chunked).unwrap(), b"hello!");
        let cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
        assert!(body(cut).is_err());
        let target = Target::parse("http://127.0.0.1:8090").unwrap();
        assert_eq!(
            &*target.post_json("/events", "{\"a\":1}"),
            b"POST /events HTTP/1.1\r\nHost: 127.0.0.1:8090\r\nUser-Agent: disco-bench\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        );
    }

    #[tokio::test]
    async fn one_connection_carries_many_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            let mut answered = 0;
            while answered < 3 {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
                while let Some(end) = find(&seen, b"\r\n\r\n", 0) {
                    seen.drain(..end + 4);
                    let answer: &[u8] = match answered {
                        0 => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                        1 => b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n",
                        _ => b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                    };
                    // Split writes, so the client must read in pieces.
                    let (a, b) = answer.split_at(answer.len() / 2);
                    socket.write_all(a).await.unwrap();
                    socket.flush().await.unwrap();
                    tokio::task::yield_now().await;
                    socket.write_all(b).await.unwrap();
                    answered += 1;
                }
            }
        });
        let target = Target::parse(&format!("http://{addr}")).unwrap();
        let mut conn = Connection::open(addr).await.unwrap();
        let mut statuses = Vec::new();
        for path in ["/a", "/b", "/c"] {
            conn.send(&target.get(path)).await.unwrap();
            statuses.push(conn.receive().await.unwrap());
        }
        assert_eq!(statuses, [200, 404, 200]);
        assert!(!conn.reusable());
        server.await.unwrap();
    }
}
