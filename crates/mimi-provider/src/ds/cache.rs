//! This process's parsed rooms: rebuilding a `HubGroup` from its snapshot
//! (decoding, and OpenMLS rebuilding the tree) costs milliseconds for a large
//! room, and every operation needs one. A parsed group is reused as long as the
//! stored state version is still the one it was parsed at (asked of storage
//! first, which is cheap), so several processes sharing a database never act
//! on a state another process replaced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most rooms kept parsed; when full, the least recently used goes.
const CAPACITY: usize = 256;

#[derive(Debug)]
struct Entry<T> {
    state_version: u64,
    group: Arc<T>,
    last_used: u64,
}

type Entries<T> = (u64, HashMap<Vec<u8>, Entry<T>>);

/// Parsed groups (`T` is the hub's `HubGroup`) by group ID, each at the state
/// version it was parsed at.
#[derive(Debug)]
pub struct GroupCache<T> {
    entries: Mutex<Entries<T>>,
}

impl<T> Default for GroupCache<T> {
    fn default() -> Self {
        GroupCache {
            entries: Mutex::new((0, HashMap::new())),
        }
    }
}

impl<T> GroupCache<T> {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries<T>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The group parsed at `state_version`, if this process has it.
    pub fn get(&self, group_id: &[u8], state_version: u64) -> Option<Arc<T>> {
        let mut guard = self.entries();
        let (clock, entries) = &mut *guard;
        *clock += 1;
        let entry = entries.get_mut(group_id)?;
        if entry.state_version != state_version {
            return None;
        }
        entry.last_used = *clock;
        Some(entry.group.clone())
    }

    /// Keeps `group` as the group's state at `state_version` (an older
    /// version never replaces a newer one).
    pub fn put(&self, group_id: &[u8], state_version: u64, group: Arc<T>) {
        let mut guard = self.entries();
        let (clock, entries) = &mut *guard;
        *clock += 1;
        if entries
            .get(group_id)
            .is_some_and(|e| e.state_version > state_version)
        {
            return;
        }
        if entries.len() >= CAPACITY && !entries.contains_key(group_id) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            group_id.to_vec(),
            Entry {
                state_version,
                group,
                last_used: *clock,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_answer_only_for_their_version_and_the_oldest_goes_first() {
        let group = Arc::new("a parsed group".to_string());
        let cache = GroupCache::default();
        cache.put(b"a", 1, group.clone());
        assert!(cache.get(b"a", 1).is_some());
        assert!(cache.get(b"a", 2).is_none());
        cache.put(b"a", 3, group.clone());
        cache.put(b"a", 2, group.clone());
        assert!(
            cache.get(b"a", 3).is_some(),
            "an older version does not replace a newer"
        );
        for i in 0..CAPACITY as u32 {
            cache.put(&i.to_be_bytes(), 1, group.clone());
        }
        assert!(cache.get(b"a", 3).is_none(), "the least recently used went");
        assert_eq!(cache.entries().1.len(), CAPACITY);
    }
}
