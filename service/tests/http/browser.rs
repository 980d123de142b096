//! The page in a real browser: Debian's headless Chromium, driven over the DevTools protocol
//! (a WebSocket, JSON commands). Open the page, type a query, see grouped results, switch tab,
//! page forward; results with their counts, the top result, a profile listing tracks, at a
//! desktop's and a phone's width; screenshots go to `target/artifacts/`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::fixture::chinook;

const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium, killed when dropped (also drives the rater's page, `judge.rs`).
pub struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    pub fn launch() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is required for the browser test (scripts/setup installs Debian's chromium)"
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-extensions",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("chromium stderr");
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .and_then(Result::ok)
                .expect("chromium exited before announcing DevTools");
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                break url.trim().to_string();
            }
        };
        // Keep draining stderr so Chromium never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (socket, _) = tungstenite::connect(url.as_str()).expect("connect to DevTools");
        Browser {
            child,
            socket,
            next_id: 0,
            session: None,
            _profile: profile,
        }
    }

    /// Sends one command and waits for its answer, skipping events; panics on an error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    /// Sends one command and waits for its answer, or the error DevTools gave, skipping events.
    pub fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .expect("send to DevTools");
        loop {
            let Message::Text(text) = self.socket.read().expect("read from DevTools") else {
                continue;
            };
            let answer: Value = serde_json::from_str(text.as_str()).expect("DevTools speaks JSON");
            if answer["id"] == id {
                return match answer["error"].is_null() {
                    true => Ok(answer["result"].clone()),
                    false => Err(answer["error"].clone()),
                };
            }
        }
    }

    pub fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        self.session = attached["sessionId"].as_str().map(str::to_string);
        self.call("Page.enable", json!({}));
        self.call("Runtime.enable", json!({}));
        self.viewport(1200, 900, false);
        self.call("Page.navigate", json!({ "url": url }));
    }

    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        let scale = if mobile { 2 } else { 1 };
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile }),
        );
    }

    /// Evaluates `expression` in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` in the page; `None` when the page navigated away meanwhile
    /// (DevTools answers -32000: the inspected target navigated, or its context is gone), as
    /// it does around a reload.
    pub fn eval_while_navigating(&mut self, expression: &str) -> Option<Value> {
        let answer = self.try_call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        match answer {
            Ok(result) => Some(result["result"]["value"].clone()),
            Err(error) if error["code"] == json!(-32000) => None,
            Err(error) => panic!("Runtime.evaluate failed: {error}"),
        }
    }

    /// Waits until `expression` is true in the page (asking again while it navigates).
    pub fn wait_for(&mut self, what: &str, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.eval_while_navigating(expression) == Some(json!(true)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let page = self.eval("document.body ? document.body.innerText.slice(0, 2000) : ''");
        panic!("timed out waiting for {what}; the page shows: {page}");
    }

    /// Clicks the middle of the first element matching `selector`, as a mouse would.
    pub fn click(&mut self, selector: &str) {
        let script = format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center'}});
               const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            sel = json!(selector)
        );
        let point = self.eval(&script);
        let (x, y) = (point[0].as_f64(), point[1].as_f64());
        let (Some(x), Some(y)) = (x, y) else {
            panic!("nothing to click at {selector}")
        };
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text }));
    }

    pub fn press_enter(&mut self) {
        self.press_key("Enter", 13);
    }

    pub fn press_key(&mut self, key: &str, code: u32) {
        for kind in ["keyDown", "keyUp"] {
            let mut event =
                json!({ "type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code });
            if kind == "keyDown" && key == "Enter" {
                event["text"] = json!("\r");
            }
            self.call("Input.dispatchKeyEvent", event);
        }
    }

    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": false }),
        );
        let bytes = base64_decode(shot["data"].as_str().expect("screenshot data"));
        std::fs::write(path, bytes).expect("write screenshot");
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0);
    for sextet in text.bytes().filter_map(value) {
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

pub fn artifacts() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("artifacts");
    std::fs::create_dir_all(&dir).expect("create target/artifacts");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_searches_groups_switches_tabs_and_pages_in_a_real_browser() {
    let server = crate::serve_in_background(chinook().router()).await;
    let address = server.address;
    let url = format!("http://{address}/");
    let dir = artifacts();

    tokio::task::spawn_blocking(move || {
        let mut browser = Browser::launch();
        browser.open(&url);
        // The empty state shows Explore.
        browser.wait_for("explore on the empty page", "!document.getElementById('explore').hidden && document.querySelectorAll('#explore-results .result').length > 0");
        let pager = browser.eval("getComputedStyle(document.getElementById('pager')).display");
        assert_eq!(pager, json!("none"), "no pager on the empty state");
        browser.screenshot(&dir.join("query-page-explore.png"));

        browser.click("#q");
        browser.type_text("love");
        browser.press_enter();
        browser.wait_for("grouped results", "document.querySelectorAll('#results section.group').length >= 2");
        assert_eq!(browser.eval("location.search"), json!("?q=love"));
        let groups = browser.eval("[...document.querySelectorAll('#results section.group')].map(s => s.dataset.kind)");
        assert!(groups.as_array().is_some_and(|g| g.len() >= 2), "results grouped by kind: {groups}");
        let tabs = browser.eval("[...document.querySelectorAll('.tab')].map(t => t.textContent)");
        assert_eq!(tabs.as_array().map(Vec::len), Some(5), "All plus a tab per kind: {tabs}");
        assert!(browser.eval("document.querySelector('#results mark') !== null") == json!(true), "highlights shown");
        browser.screenshot(&dir.join("query-page-results.png"));

        browser.click(".tab[data-kind=track]");
        browser.wait_for(
            "the Tracks tab",
            "document.querySelector('.tab[data-kind=track]').getAttribute('aria-selected') === 'true' && \
             [...document.querySelectorAll('#results .result')].every(r => r.dataset.kind === 'track') && \
             document.querySelectorAll('#results .result').length === 10",
        );
        let first_page = browser.eval("[...document.querySelectorAll('#results .result')].map(r => r.dataset.id).join()");
        browser.click("#next");
        browser.wait_for("page 2", "document.getElementById('page-info').textContent.startsWith('Page 2 of')");
        browser.wait_for("new results on page 2", &format!(
            "[...document.querySelectorAll('#results .result')].map(r => r.dataset.id).join() !== {first_page}"
        ));
        assert_eq!(browser.eval("location.search"), json!("?q=love&kind=track&page=2"));
        browser.screenshot(&dir.join("query-page-tracks-page2.png"));

        // A phone's width: still one column, nothing wider than the screen.
        browser.viewport(390, 844, true);
        let overflow = browser.eval("document.documentElement.scrollWidth <= window.innerWidth");
        assert_eq!(overflow, json!(true), "no horizontal scrolling at phone width");
        browser.screenshot(&dir.join("query-page-phone.png"));

        // The artist link leads to the people results for that name.
        browser.viewport(1200, 900, false);
        browser.click("#results a.artist");
        browser.wait_for("the artist's profile results", "location.search.includes('kind=user') && document.querySelectorAll('#results .result[data-kind=user]').length > 0");

        // Suggest: three letters, typed suggestions, arrow down, enter goes to the entity.
        browser.eval("document.getElementById('q').value = ''");
        browser.click("#q");
        browser.type_text("met");
        browser.wait_for("suggestions", "!document.getElementById('suggest').hidden && document.querySelectorAll('#suggest li svg').length > 0");
        let kinds = browser.eval("[...document.querySelectorAll('#suggest li')].map(li => li.dataset.kind)");
        assert!(kinds.as_array().is_some_and(|k| !k.is_empty()), "typed suggestions: {kinds}");
        browser.screenshot(&dir.join("query-page-suggest.png"));
        browser.press_key("ArrowDown", 40);
        browser.wait_for("the first suggestion selected", "document.querySelector('#suggest li').getAttribute('aria-selected') === 'true'");
        browser.press_key("Escape", 27);
        browser.wait_for("escape closes", "document.getElementById('suggest').hidden");
        browser.type_text("a");
        browser.wait_for("suggestions again", "!document.getElementById('suggest').hidden && document.querySelector('#suggest li .text').textContent.toLowerCase().includes('meta')");
        browser.press_key("ArrowDown", 40);
        let expected = browser.eval("suggest.items[0].url");
        browser.press_enter();
        browser.wait_for("the entity's page", &format!("location.pathname === {expected}"));
    })
    .await
    .expect("browser steps");

    server.stop().await;
    assert!(artifacts().join("query-page-results.png").exists());
}

/// What a visitor expects (#24): results with their counts, a top result card for an artist's
/// whole name, and a profile listing their tracks — at a desktop's width and a phone's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_show_counts_a_top_result_and_profiles_list_tracks_at_desktop_and_phone_width() {
    let server = crate::serve_in_background(chinook().router()).await;
    let address = server.address;
    let dir = artifacts();

    tokio::task::spawn_blocking(move || {
        let mut browser = Browser::launch();
        for (width, height, mobile, name) in [(1200, 900, false, "desktop"), (390, 844, true, "phone")] {
            browser.open(&format!("http://{address}/?q=metallica"));
            browser.viewport(width, height, mobile);
            browser.wait_for("the top result", "document.querySelector('#results section.top .result.top-card') !== null && document.querySelectorAll('#results section.group').length >= 2");
            let top = browser.eval("(() => { const c = document.querySelector('.top-card'); return [c.dataset.kind, c.querySelector('.title').textContent, c.querySelector('.stats').textContent, c.dataset.position]; })()");
            assert_eq!(top[0], json!("user"), "{name}: {top}");
            assert_eq!(top[1], json!("Metallica"), "{name}: {top}");
            assert!(top[2].as_str().is_some_and(|s| s.contains("followers") && s.contains("tracks")), "{name}: the card shows followers and tracks: {top}");
            assert_eq!(top[3], json!("1"), "a click on the card is the answer's first position");
            let bigger = browser.eval("document.querySelector('.top-card .icon').getBoundingClientRect().width > document.querySelector('section.group .result .icon').getBoundingClientRect().width");
            assert_eq!(bigger, json!(true), "{name}: the top result is a larger card");
            // Every track shows its plays, likes, length and age; people their followers.
            let tracks = browser.eval("[...document.querySelectorAll('section.group .result[data-kind=track] .stats')].map(s => s.textContent)");
            let tracks = tracks.as_array().cloned().unwrap_or_default();
            assert!(!tracks.is_empty(), "{name}: track results");
            for stats in &tracks {
                let text = stats.as_str().unwrap_or_default();
                assert!(text.contains("plays") && text.contains("likes") && text.contains(':') && text.contains("ago"), "{name}: a track's counts: {text}");
            }
            let sets = browser.eval("[...document.querySelectorAll('section.group .result[data-kind=playlist] .stats')].map(s => s.textContent)");
            assert!(sets.as_array().is_some_and(|s| s.iter().any(|t| t.as_str().unwrap_or_default().contains("tracks"))), "{name}: sets show their tracks: {sets}");
            let overflow = browser.eval("document.documentElement.scrollWidth <= window.innerWidth");
            assert_eq!(overflow, json!(true), "{name}: no horizontal scrolling");
            browser.screenshot(&dir.join(format!("visitor-top-result-{name}.png")));

            // A vague query has no top result.
            browser.open(&format!("http://{address}/?q=blue"));
            browser.viewport(width, height, mobile);
            browser.wait_for("mixed results", "document.querySelectorAll('#results section.group').length >= 2");
            assert_eq!(browser.eval("document.querySelector('.top-card') === null"), json!(true), "{name}: no top result for a vague query");

            // The card leads to the profile, which lists the artist's tracks and sets.
            browser.open(&format!("http://{address}/?q=metallica"));
            browser.viewport(width, height, mobile);
            browser.wait_for("the top result", "document.querySelector('.top-card .title') !== null");
            browser.click(".top-card .title");
            browser.wait_for("the profile", "location.pathname.startsWith('/users/') && document.querySelector('section.list[data-kind=track] li') !== null");
            let listed = browser.eval("[...document.querySelectorAll('section.list[data-kind=track] li')].map(li => li.querySelector('.stats').textContent)");
            let listed = listed.as_array().cloned().unwrap_or_default();
            assert_eq!(listed.len(), service::listing::LISTED, "{name}: the popular tracks");
            assert!(listed.iter().all(|s| s.as_str().is_some_and(|s| s.contains("plays"))), "{name}: {listed:?}");
            assert_eq!(browser.eval("document.querySelector('section.list[data-kind=playlist] li') !== null"), json!(true), "{name}: the artist's sets");
            let overflow = browser.eval("document.documentElement.scrollWidth <= window.innerWidth");
            assert_eq!(overflow, json!(true), "{name}: no horizontal scrolling on the profile");
            browser.screenshot(&dir.join(format!("visitor-profile-{name}.png")));
        }
    })
    .await
    .expect("browser steps");

    server.stop().await;
    for name in ["desktop", "phone"] {
        assert!(
            artifacts()
                .join(format!("visitor-top-result-{name}.png"))
                .exists()
        );
        assert!(
            artifacts()
                .join(format!("visitor-profile-{name}.png"))
                .exists()
        );
    }
}
