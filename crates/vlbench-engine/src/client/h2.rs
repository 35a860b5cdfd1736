//! The HTTP/2 half of [`Client`]: requests through hyper on the one
//! multiplexed connection a client shares, bodies streamed frame by frame
//! into the counting decoder. Must not touch HTTP/1.1 connections.

use http::header;
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use vlbench_stats::ErrorClass;

use super::{fail_with, judge, mismatch, Client, Exchange, Failure};
use crate::body::{Decode, Expect, Scan};
use crate::conn::{Conn, ReqBody};

impl Client {
    pub(super) async fn attempt_h2(
        &self,
        uri: &Uri,
        expect: Expect,
        capture: usize,
        ex: &mut Exchange,
    ) {
        let resp = match self.send(uri).await {
            Ok(resp) => resp,
            Err(fail) => return fail_with(ex, fail, capture),
        };
        ex.status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map_or(&b""[..], |v| v.as_bytes());
        let gzip = resp
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let ok = resp.status().is_success();
        let limit = if ok { 0 } else { capture };
        let decode = Decode::new(Scan::new(expect, ct, limit), gzip);
        let BodyEnd::Done(scan) = read_body(resp.into_body(), decode, ex).await else {
            ex.error = Some(ErrorClass::Body);
            return; // the connection is in an unknown state: dropped
        };
        judge(ex, scan, capture);
    }

    /// HTTP/2: sends on the shared connection (opened when needed); sends
    /// once more on a fresh connection when the shared one turns out closed.
    async fn send(&self, uri: &Uri) -> Result<Response<Incoming>, Failure> {
        let (mut conn, reused) = self.checkout().await?;
        match send_on(&mut conn, self.request(uri)).await {
            Ok(resp) => Ok(resp),
            Err(e) if reused && is_stale(&e) => {
                drop(conn);
                self.forget_shared();
                let mut conn = self.open_h2().await?;
                send_on(&mut conn, self.request(uri))
                    .await
                    .map_err(Failure::Http)
            }
            Err(e) => {
                self.forget_shared();
                Err(Failure::Http(e))
            }
        }
    }

    fn request(&self, uri: &Uri) -> Request<ReqBody> {
        let mut req = Request::new(ReqBody::new());
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }

    /// The shared HTTP/2 connection, and whether it was used before.
    async fn checkout(&self) -> Result<(H2Sender, bool), Failure> {
        let shared = self.shared.lock().ok().and_then(|s| match &*s {
            Some(Conn::H2(tx)) if !tx.is_closed() => Some(tx.clone()),
            _ => None,
        });
        match shared {
            Some(tx) => Ok((tx, true)),
            None => Ok((self.open_h2().await?, false)),
        }
    }

    async fn open_h2(&self) -> Result<H2Sender, Failure> {
        match self.open().await? {
            Conn::H2(tx) => Ok(tx),
            Conn::H1(_) => Err(mismatch()),
        }
    }
}

type H2Sender = hyper::client::conn::http2::SendRequest<ReqBody>;

async fn send_on(
    tx: &mut H2Sender,
    req: Request<ReqBody>,
) -> Result<Response<Incoming>, hyper::Error> {
    tx.ready().await?;
    tx.send_request(req).await
}

/// Errors of a reused connection that mean "the server had closed it": the
/// request never reached a live connection, so sending again is safe.
fn is_stale(e: &hyper::Error) -> bool {
    e.is_canceled() || e.is_closed() || e.is_incomplete_message()
}

/// How a body ended.
enum BodyEnd {
    /// The stream was cut (chunked decoding error, early close, reset).
    Cut,
    /// Read to its end; the scan, or `None` when gzip could not be decoded.
    Done(Option<Scan>),
}

/// Streams `body` to its end into `decode`, counting wire bytes.
async fn read_body(mut body: Incoming, mut decode: Decode, ex: &mut Exchange) -> BodyEnd {
    let mut decodable = true;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyEnd::Cut;
        };
        if let Some(data) = frame.data_ref() {
            ex.bytes += data.len() as u64;
            if decodable {
                decodable = decode.feed(data);
            }
        }
    }
    BodyEnd::Done(if decodable { decode.finish() } else { None })
}
