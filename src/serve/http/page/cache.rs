//! The port pages last rendered from the current data snapshot, so that a page asked for again
//! (the popular ports are asked for again and again) is not rendered again.
//!
//! Bounded by size: at most [`LIMIT`] bytes of pages and keys; past that the page kept longest
//! goes first. A new snapshot empties it (pages show the data and its serial). A page is kept
//! per site as the reader reached it (`Site::base`: links and commands name it), so a client
//! sending odd `Host` headers only pushes other pages out sooner.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::core::zone::Snapshot;

/// The most bytes of pages (and their keys) kept: about 80 pages the size of 443/tcp's.
pub(super) const LIMIT: usize = 256 * 1024;

/// Pages by key, with the snapshot they were rendered from.
#[derive(Debug, Default)]
pub(crate) struct Pages {
    /// A std mutex: never held across an `.await`, and only for a lookup or an insert.
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// The snapshot the pages were rendered from. Weak, so a replaced table is freed; its
    /// allocation stays reserved while this points to it, so no later snapshot can take its
    /// address.
    snapshot: Weak<Snapshot>,
    /// Keyed by a fast hash rather than std's default, which resists collisions chosen by
    /// a client: a client choosing `Host`s that collide can slow only the lookups among the
    /// few hundred pages the limit allows.
    pages: FxHashMap<Arc<str>, Bytes>,
    /// Keys, oldest first.
    order: VecDeque<Arc<str>>,
    /// Bytes of pages and keys held.
    size: usize,
}

impl Kept {
    /// Forgets every page when `snapshot` is not the one they were rendered from.
    fn follow(&mut self, snapshot: &Arc<Snapshot>) {
        if !std::ptr::eq(self.snapshot.as_ptr(), Arc::as_ptr(snapshot)) {
            *self = Kept {
                snapshot: Arc::downgrade(snapshot),
                ..Kept::default()
            };
        }
    }
}

impl Pages {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The page kept under `key` for `snapshot`.
    pub(super) fn get(&self, snapshot: &Arc<Snapshot>, key: &str) -> Option<Bytes> {
        let mut kept = self.kept();
        kept.follow(snapshot);
        kept.pages.get(key).cloned()
    }

    /// Keeps `page` under `key` for `snapshot`, pushing out the oldest pages past [`LIMIT`];
    /// a page larger than the limit by itself is not kept.
    pub(super) fn keep(&self, snapshot: &Arc<Snapshot>, key: String, page: Bytes) {
        let size = key.len() + page.len();
        if size > LIMIT {
            return;
        }
        let mut kept = self.kept();
        kept.follow(snapshot);
        if kept.pages.contains_key(key.as_str()) {
            return;
        }
        while kept.size + size > LIMIT {
            let Some(oldest) = kept.order.pop_front() else {
                break;
            };
            if let Some(gone) = kept.pages.remove(&oldest) {
                kept.size -= oldest.len() + gone.len();
            }
        }
        kept.size += size;
        let key: Arc<str> = key.into();
        kept.order.push_back(key.clone());
        kept.pages.insert(key, page);
    }

    /// Bytes held, pages and keys.
    #[cfg(test)]
    fn size(&self) -> usize {
        self.kept().size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::names::parse_domain;
    use crate::core::table::Table;
    use crate::core::zone::Zone;

    fn snapshot() -> Arc<Snapshot> {
        let zone = Zone::new(
            parse_domain("ports.test").unwrap(),
            parse_domain("ns.ports.test").unwrap(),
            vec!["192.0.2.1".parse().unwrap()],
            60,
        );
        Arc::new(Snapshot::new(Table::new(Vec::new()), 1, &zone))
    }

    #[test]
    fn pages_past_the_limit_push_out_the_oldest() {
        let pages = Pages::default();
        let now = snapshot();
        let page = Bytes::from(vec![b'x'; LIMIT / 3]);
        for key in ["a", "b", "c", "d"] {
            pages.keep(&now, key.to_owned(), page.clone());
        }
        assert!(pages.get(&now, "a").is_none());
        assert!(pages.get(&now, "d").is_some());
        assert!(pages.size() <= LIMIT);
        pages.keep(&now, "huge".to_owned(), Bytes::from(vec![b'x'; LIMIT]));
        assert!(pages.get(&now, "huge").is_none());
    }

    #[test]
    fn a_new_snapshot_forgets_every_page() {
        let pages = Pages::default();
        let (old, new) = (snapshot(), snapshot());
        pages.keep(&old, "a".to_owned(), Bytes::from_static(b"page"));
        assert!(pages.get(&old, "a").is_some());
        assert!(pages.get(&new, "a").is_none());
        assert_eq!(pages.size(), 0);
    }
}
