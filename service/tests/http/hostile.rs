//! Anything typed into the box is a valid search: 10,000 random and hostile query strings all
//! answer 200 or 400, never 5xx, always with a JSON body.

use axum::http::StatusCode;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::fixture::chinook;
use crate::{encode, get_raw};

const PIECES: &[&str] = &[
    "\"",
    "-",
    "+",
    "(",
    ")",
    ":",
    "^",
    "~",
    "*",
    "?",
    "\\",
    "/",
    "[",
    "]",
    "{",
    "}",
    "!",
    "&&",
    "||",
    "AND",
    "OR",
    "NOT",
    "title:",
    "kind:track",
    "\"\"",
    "-\"",
    " - ",
    "--",
    "%",
    "%00",
    "\u{0}",
    "\u{7}",
    "\u{1b}[31m",
    "\r\n",
    "\t",
    "\u{200b}",
    "\u{202e}",
    "\u{feff}",
    "🎸",
    "👨‍👩‍👧",
    "Beyoncé",
    "坂本龍一",
    "Ω",
    "\u{301}",
    "AC/DC",
    "P!nk",
    "$uicideboy$",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "NaN",
    "-1",
    "1e309",
    "enter",
    "sandman",
    "metallica",
    "love",
    "rock",
    "the",
    "a",
];

fn random_text(rng: &mut ChaCha8Rng) -> String {
    let mut text = String::new();
    let pieces = rng.random_range(0..12);
    for _ in 0..pieces {
        match rng.random_range(0..4) {
            0 => text.push_str(PIECES[rng.random_range(0..PIECES.len())]),
            1 => text.push(' '),
            2 => {
                // Any Unicode scalar value, controls and private use included.
                let c = loop {
                    if let Some(c) = char::from_u32(rng.random_range(0..0x11_0000)) {
                        break c;
                    }
                };
                text.push(c);
            }
            _ => {
                for _ in 0..rng.random_range(1..12) {
                    text.push(rng.random_range(b'a'..=b'z') as char);
                }
            }
        }
    }
    text
}

/// Query strings that are not even well-formed.
const RAW: &[&str] = &[
    "q=%",
    "q=%zz",
    "q=%F0%9F",
    "q",
    "=",
    "&&&",
    "q=a&&&&limit=",
    "q==",
    "q=a&limit=%2B5",
    "q=a&offset=%20",
    "q[]=a",
    "q[0]=a&q[1]=b",
    "q=a;limit=5",
    "%71=a",
    "q=%00%00",
    "q=a+b+%22c",
    "limit=&offset=&kind=&rank=",
];

#[tokio::test]
async fn ten_thousand_hostile_queries_never_fail_the_server() {
    let router = chinook().router();
    let mut rng = ChaCha8Rng::seed_from_u64(0xd15c0);
    let mut uris: Vec<String> = RAW.iter().map(|q| format!("/search?{q}")).collect();
    uris.push(format!("/search?q={}", encode(&"x".repeat(10 * 1024))));
    uris.push(format!("/search?q={}", encode(&"\"a ".repeat(3400))));
    while uris.len() < 10_000 {
        let text = if rng.random_range(0..200) == 0 {
            // Now and then something huge.
            (0..rng.random_range(50..400))
                .map(|_| random_text(&mut rng))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            random_text(&mut rng)
        };
        let mut uri = format!("/search?q={}", encode(&text));
        if rng.random_bool(0.2) {
            let kinds = ["track", "user", "playlist", "group", "bogus", ""];
            uri.push_str(&format!(
                "&kind={}",
                kinds[rng.random_range(0..kinds.len())]
            ));
        }
        if rng.random_bool(0.1) {
            uri.push_str(&format!("&genre={}", encode(&random_text(&mut rng))));
        }
        if rng.random_bool(0.1) {
            uri.push_str(&format!(
                "&limit={}&offset={}",
                rng.random_range(-5..120),
                rng.random_range(-5..10_050)
            ));
        }
        uris.push(uri);
    }
    let (mut ok, mut rejected) = (0, 0);
    for uri in &uris {
        let (status, body, _) = get_raw(&router, uri).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{uri} answered {status}: {body}"
        );
        let value: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {body}"));
        if status == StatusCode::OK {
            ok += 1;
            assert!(value["results"].is_array());
        } else {
            rejected += 1;
            assert!(value["error"].is_string());
        }
    }
    assert_eq!(ok + rejected, 10_000);
    assert!(
        ok > 8_000,
        "most random queries are valid searches ({ok} ok, {rejected} rejected)"
    );
}
