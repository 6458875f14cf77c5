//! A minimal client of the Chrome DevTools Protocol over its WebSocket (std only: an HTTP
//! upgrade, masked text frames out, frames in): enough to navigate a page, evaluate
//! expressions in it, keep its console messages and take a screenshot.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A connection to one page target.
pub struct Page {
    stream: TcpStream,
    next_id: u64,
    /// The console messages and exceptions seen so far, as text.
    pub console: Vec<String>,
}

/// The body of `GET path` from the DevTools HTTP server on `port` (its length from
/// Content-Length: the server keeps the connection open).
fn http_get(port: u16, path: &str) -> Result<String, String> {
    let err = |e: std::io::Error| format!("DevTools GET {path}: {e}");
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(err)?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(err)?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).map_err(err)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| format!("DevTools GET {path}: no Content-Length in {head:?}"))?;
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).map_err(err)?;
    Ok(String::from_utf8_lossy(&body).to_string())
}

/// The WebSocket URL path of the first page target of the browser on `port` (waiting up
/// to 10 s for one to be listed).
fn page_target(port: u16) -> Result<String, String> {
    let started = std::time::Instant::now();
    loop {
        let body = http_get(port, "/json/list")?;
        let targets: Value = serde_json::from_str(&body)
            .map_err(|e| format!("DevTools /json/list: {e}: {body:?}"))?;
        let url = targets
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str());
        if let Some(url) = url {
            let path = url
                .splitn(4, '/')
                .nth(3)
                .ok_or("bad webSocketDebuggerUrl")?;
            return Ok(format!("/{path}"));
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("DevTools lists no page: {body}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Page {
    /// Connects to the first page of the browser whose DevTools listen on `port`.
    pub fn connect(port: u16) -> Result<Page, String> {
        let path = page_target(port)?;
        let mut stream =
            TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("DevTools: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .map_err(|e| format!("DevTools: {e}"))?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream
                .read_exact(&mut byte)
                .map_err(|e| format!("DevTools handshake: {e}"))?;
            head.push(byte[0]);
        }
        let status = String::from_utf8_lossy(&head);
        if !status.lines().next().unwrap_or("").contains(" 101 ") {
            return Err(format!("DevTools refused the WebSocket: {status}"));
        }
        Ok(Page {
            stream,
            next_id: 0,
            console: Vec::new(),
        })
    }

    /// Calls `method` and returns its result; events that arrive meanwhile are kept
    /// (console messages) or dropped.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.send(message.as_bytes())
            .map_err(|e| format!("DevTools {method}: {e}"))?;
        loop {
            let text = self
                .receive()
                .map_err(|e| format!("DevTools {method}: {e}"))?;
            let reply: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if reply["id"] == id {
                if let Some(error) = reply.get("error") {
                    return Err(format!("DevTools {method}: {error}"));
                }
                return Ok(reply["result"].clone());
            }
            self.keep_event(&reply);
        }
    }

    /// Evaluates `expression` in the page and returns its value (JSON-serializable values
    /// only); an exception is an error.
    pub fn evaluate(&mut self, expression: &str) -> Result<Value, String> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        )?;
        if let Some(details) = result.get("exceptionDetails") {
            return Err(format!("{expression}: {details}"));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Evaluates `expression` and waits for the promise it returns; its value as
    /// [`Page::evaluate`] returns it.
    pub fn evaluate_awaited(&mut self, expression: &str) -> Result<Value, String> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(details) = result.get("exceptionDetails") {
            return Err(format!("{expression}: {details}"));
        }
        Ok(result["result"]["value"].clone())
    }

    fn keep_event(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.consoleAPICalled") => {
                let args: Vec<String> = params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        a["value"]
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| a["description"].as_str().unwrap_or("").to_string())
                    })
                    .collect();
                self.console.push(format!(
                    "console.{}: {}",
                    params["type"].as_str().unwrap_or("log"),
                    args.join(" ")
                ));
            }
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("");
                self.console.push(format!("exception: {text}"));
            }
            _ => {}
        }
    }

    /// Sends one masked text frame.
    fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let mask = [0x5a, 0x13, 0xc7, 0x2e];
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend((n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend((n as u64).to_be_bytes());
            }
        }
        frame.extend(mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame)
    }

    /// Receives one whole message (answering pings, joining continuation frames).
    fn receive(&mut self) -> std::io::Result<String> {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head)?;
            let opcode = head[0] & 0x0f;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b)?;
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b)?;
                len = u64::from_be_bytes(b);
            }
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload)?;
            match opcode {
                0x8 => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the browser closed the connection",
                    ));
                }
                0x9 => {
                    // Ping: answer with a pong carrying the same payload.
                    let mask = [0u8; 4];
                    let mut pong = vec![0x8a, 0x80 | payload.len() as u8];
                    pong.extend(mask);
                    pong.extend(&payload);
                    self.stream.write_all(&pong)?;
                    continue;
                }
                0xa => continue,
                _ => message.extend(payload),
            }
            if head[0] & 0x80 != 0 {
                return Ok(String::from_utf8_lossy(&message).into_owned());
            }
        }
    }
}

/// Decodes standard base64 (what `Page.captureScreenshot` returns).
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let body = clean
        .strip_suffix(b"==")
        .or(clean.strip_suffix(b"="))
        .unwrap_or(&clean);
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c).ok_or("not base64")? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert!(base64_decode("a$==").is_err());
    }
}
