//! A minimal HTTP/1.1 server on loopback port 0 serving fixtures by path, for the tests of
//! `portsd update-data`: whole files, wrong statuses, bodies shorter than their
//! Content-Length, and silence.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// What the fixture server sends for one path.
#[derive(Clone)]
pub enum Reply {
    /// Status line and body; `declared_length` overrides the Content-Length header.
    Http {
        status: &'static str,
        content_type: &'static str,
        body: Vec<u8>,
        declared_length: Option<usize>,
    },
    /// Read the request and then say nothing until the client gives up.
    Silence,
}

pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
    Reply::Http {
        status: "200 OK",
        content_type,
        body: body.into(),
        declared_length: None,
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1:0: one thread per connection, one request per
/// connection, replies by path (404 for any other). It lives as long as the test process, in
/// the network namespace of the thread that calls it.
pub fn serve_fixtures(replies: HashMap<&'static str, Reply>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fixture server");
    let addr = listener.local_addr().unwrap();
    let replies = Arc::new(replies);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let replies = replies.clone();
            std::thread::spawn(move || answer(stream, &replies));
        }
    });
    addr
}

fn answer(mut stream: TcpStream, replies: &HashMap<&'static str, Reply>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header != "\r\n" {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    match replies.get(path) {
        Some(Reply::Http {
            status,
            content_type,
            body,
            declared_length,
        }) => {
            let length = declared_length.unwrap_or(body.len());
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: \
                 {length}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
        Some(Reply::Silence) => {
            // Blocks until the client closes the connection.
            let _ = reader.read_to_end(&mut Vec::new());
        }
        None => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
            );
        }
    }
}
