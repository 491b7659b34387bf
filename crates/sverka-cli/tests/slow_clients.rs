//! Slow and stalled clients do not starve the others (issue 10, fault tests). While hundreds of
//! connections misbehave at once (request heads sent a byte at a time, bodies that never finish,
//! readers that ask for pages and never read the answers, connections that send nothing), an
//! ordinary scanner still gets its receipts and an ordinary reader its results, and the server
//! still stops cleanly on SIGTERM.

mod fault_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fault_common::{agent, init, json, night, Server};

/// One misbehaving client on its own thread until `stop`: `kind` says how.
fn misbehave(port: u16, kind: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return };
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        match kind % 4 {
            // Slowloris: a request head, one byte every 100 ms, reconnecting when cut off.
            0 => {
                let head = b"GET /api/v1/results HTTP/1.1\r\nHost: x\r\nX-Slow: ";
                let mut sent = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let byte = head.get(sent).copied().unwrap_or(b'a');
                    if stream.write_all(&[byte]).is_err() {
                        match TcpStream::connect(("127.0.0.1", port)) {
                            Ok(again) => (stream, sent) = (again, 0),
                            Err(_) => return,
                        }
                        continue;
                    }
                    sent += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            // A submission whose body never finishes.
            1 => {
                let head = b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n{";
                let _ = stream.write_all(head);
                while !stop.load(Ordering::Relaxed) {
                    let _ = stream.write_all(b" ");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
            // A reader that asks for the national page over and over and never reads.
            2 => {
                let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
                while !stop.load(Ordering::Relaxed) {
                    if stream.write_all(request).is_err() {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            // A connection that sends nothing at all.
            _ => {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        let mut rest = Vec::new();
        let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
        let _ = stream.read_to_end(&mut rest);
    })
}

#[test]
fn slow_and_stalled_clients_do_not_starve_scanners_or_readers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (night, lines) = night(8, 40);
    init(&data, &night);
    let mut server = Server::start(&data, &dir.path().join("serve.log"));
    let stop = Arc::new(AtomicBool::new(false));
    let stallers: Vec<_> = (0..400).map(|i| misbehave(server.port, i, stop.clone())).collect();
    std::thread::sleep(Duration::from_secs(1));

    // Ordinary clients while all of those stall, each request with a 30 s limit (the server's own
    // request timeout): starving would mean no answer while the stallers last, which is the whole
    // test. Most answers take milliseconds; the first few take seconds while the server fills the
    // never-reading readers' socket buffers with pages (measured on the 2-core machine at load 6-9:
    // median 3 ms, the first request 3.5-4.8 s). With a 10 s limit that start made the test fail
    // when other work shared the machine (2 of 4 runs at load 8; it had passed in every CI run).
    let agent = agent(Duration::from_secs(30));
    let mut receipts = 0;
    for line in &lines {
        let url = format!("{}/api/v1/submissions", server.base);
        let response = agent.post(url).send(&line[..]).expect("a scanner is answered");
        let status = response.status().as_u16();
        assert!(status < 500, "a scanner got {status}: {}", json(response));
        receipts += usize::from(status == 200 || status == 201);
        let results = agent.get(format!("{}/api/v1/results", server.base)).call();
        assert_eq!(results.expect("a reader is answered").status(), 200);
    }
    assert!(receipts > lines.len() / 2, "{receipts} of {} submissions accepted", lines.len());
    let page = agent.get(format!("{}/", server.base)).call().expect("the site answers");
    assert_eq!(page.status(), 200);

    // Shutdown does not wait on them for ever.
    let status = server.terminate(Duration::from_secs(40));
    assert!(status.success(), "SIGTERM with stalled clients open ended the server with {status}");
    stop.store(true, Ordering::Relaxed);
    for staller in stallers {
        let _ = staller.join();
    }
}
