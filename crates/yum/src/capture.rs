//! Keeps the leading bytes of an upload (lead, signature and header of an RPM) while the whole
//! body streams to storage, and stops a body that is plainly no RPM early.

use std::sync::{Arc, Mutex};

use arca_core::blob::ByteStream;
use futures_util::StreamExt;

use crate::package::{MAX_HEADER, header_len};

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    need: Option<usize>,
    error: Option<String>,
}

#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<State>>);

impl Capture {
    pub fn new() -> Self {
        Self::default()
    }

    fn feed(&self, chunk: &[u8]) -> Result<(), String> {
        let mut st = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = &st.error {
            return Err(e.clone());
        }
        if st.need.is_some_and(|n| st.buf.len() >= n) {
            return Ok(());
        }
        let room = st.need.unwrap_or(MAX_HEADER).saturating_sub(st.buf.len());
        st.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if st.need.is_none() {
            match header_len(&st.buf) {
                None => {}
                Some(Ok(n)) => {
                    st.need = Some(n);
                    st.buf.truncate(n);
                }
                Some(Err(e)) => {
                    st.error = Some(e.clone());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Why the body was refused while streaming, if it was.
    pub fn error(&self) -> Option<String> {
        self.0.lock().ok().and_then(|s| s.error.clone())
    }

    /// The captured header bytes, once the body ended.
    pub fn header(&self) -> Result<Vec<u8>, String> {
        let st = self.0.lock().map_err(|_| "capture poisoned".to_string())?;
        match st.need {
            Some(n) if st.buf.len() >= n => Ok(st.buf.clone()),
            _ => Err("not an RPM: the file ends inside its header".into()),
        }
    }
}

pub fn stream(body: ByteStream, cap: Capture) -> ByteStream {
    body.map(move |chunk| {
        let chunk = chunk?;
        cap.feed(&chunk).map_err(std::io::Error::other)?;
        Ok(chunk)
    })
    .boxed()
}
