//! Fuzzy matching for the command palette, fast enough to rank 100k entries within a
//! frame: each entry keeps its lower-cased text in one arena and a bit set of the
//! characters it holds, so most entries are turned down with one AND; a query that
//! extends the previous one only looks at the previous matches.

use memchr::memmem;

/// Results shown at most.
pub const MAX_RESULTS: usize = 50;

/// Entries to match against, in the order given.
#[derive(Debug, Default)]
pub struct Matcher {
    text: String,
    /// Start of each entry's text in `text` (with one more at the end).
    starts: Vec<u32>,
    masks: Vec<u64>,
    /// The last query and the entries it matched, to narrow from.
    last: Option<(String, Vec<u32>)>,
}

/// One match: the entry and how well it matched (higher is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Position of the entry, as pushed.
    pub entry: u32,
    /// Higher is better.
    pub score: i32,
}

fn bit(b: u8) -> u64 {
    match b {
        b'a'..=b'z' => 1 << (b - b'a'),
        b'0'..=b'9' => 1 << (26 + b - b'0'),
        b'_' | b'-' | b'.' | b'/' | b':' | b' ' => 1 << 36,
        _ => 1 << 37,
    }
}

fn mask(text: &[u8]) -> u64 {
    text.iter().fold(0, |m, &b| m | bit(b))
}

impl Matcher {
    /// Room for `entries` entries of about `bytes` bytes of text in all.
    pub fn with_capacity(entries: usize, bytes: usize) -> Matcher {
        Matcher {
            text: String::with_capacity(bytes),
            starts: Vec::with_capacity(entries + 1),
            masks: Vec::with_capacity(entries),
            last: None,
        }
    }

    /// Adds an entry; returns its position.
    pub fn push(&mut self, text: &str) -> u32 {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        let start = self.text.len();
        self.text.extend(text.chars().flat_map(char::to_lowercase));
        self.starts.push(self.text.len() as u32);
        self.masks.push(mask(&self.text.as_bytes()[start..]));
        self.last = None;
        (self.masks.len() - 1) as u32
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.masks.len()
    }

    /// True with no entries.
    pub fn is_empty(&self) -> bool {
        self.masks.is_empty()
    }

    fn entry(&self, i: u32) -> &[u8] {
        let i = i as usize;
        &self.text.as_bytes()[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// The best [`MAX_RESULTS`] entries for `query`, best first (ties in entry order).
    /// An empty query answers the first entries.
    pub fn search(&mut self, query: &str) -> Vec<Hit> {
        let query: String = query.trim().chars().flat_map(char::to_lowercase).collect();
        if query.is_empty() {
            self.last = None;
            return (0..self.len().min(MAX_RESULTS) as u32)
                .map(|entry| Hit { entry, score: 0 })
                .collect();
        }
        let last = self.last.take();
        let q = query.as_bytes();
        let qmask = mask(q);
        let finder = memmem::Finder::new(q);
        let mut hits = Vec::new();
        let mut matched = Vec::new();
        let mut consider = |i: u32, hits: &mut Vec<Hit>| {
            if self.masks[i as usize] & qmask != qmask {
                return;
            }
            if let Some(score) = score(self.entry(i), q, &finder) {
                hits.push(Hit { entry: i, score });
                matched.push(i);
            }
        };
        match last {
            // Every match of the longer query matched the shorter one.
            Some((last, previous)) if query.starts_with(&last) => {
                for &i in &previous {
                    consider(i, &mut hits);
                }
            }
            _ => {
                for i in 0..self.masks.len() as u32 {
                    consider(i, &mut hits);
                }
            }
        }
        self.last = Some((query, matched));
        let by_rank = |a: &Hit, b: &Hit| b.score.cmp(&a.score).then(a.entry.cmp(&b.entry));
        if hits.len() > MAX_RESULTS {
            hits.select_nth_unstable_by(MAX_RESULTS - 1, by_rank);
            hits.truncate(MAX_RESULTS);
        }
        hits.sort_unstable_by(by_rank);
        hits
    }
}

fn boundary(text: &[u8], at: usize) -> bool {
    at == 0 || !text[at - 1].is_ascii_alphanumeric()
}

/// How well `text` matches `q`: a substring scores above any scattered match, earlier
/// and at a word start higher; scattered letters score by how many run together.
fn score(text: &[u8], q: &[u8], finder: &memmem::Finder<'_>) -> Option<i32> {
    if let Some(at) = finder.find(text) {
        let mut s = 10_000 - at.min(1000) as i32 - (text.len().min(1000) as i32) / 8;
        if boundary(text, at) {
            s += 2_000;
        }
        return Some(s);
    }
    // Each query byte in order, the earliest place it fits.
    let mut s = 0;
    let mut pos = 0;
    let mut previous: Option<usize> = None;
    for &c in q {
        let at = pos + memchr::memchr(c, &text[pos..])?;
        if previous == Some(at.wrapping_sub(1)) {
            s += 15;
        } else if boundary(text, at) {
            s += 10;
        } else {
            s -= 1;
        }
        previous = Some(at);
        pos = at + 1;
    }
    Some(s - (text.len().min(1000) as i32) / 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn best(m: &mut Matcher, q: &str) -> Vec<u32> {
        m.search(q).iter().map(|h| h.entry).collect()
    }

    #[test]
    fn substrings_rank_above_scattered_letters_and_word_starts_above_middles() {
        let mut m = Matcher::default();
        m.push("Job train_resnet_0042 · RUNNING"); // 0
        m.push("Job eval_0042_resnet · FAILED"); // 1
        m.push("Go to Resources"); // 2
        m.push("Job xtrain_big · QUEUED"); // 3
        assert_eq!(best(&mut m, "0042"), [1, 0], "the earlier match first");
        assert_eq!(best(&mut m, "train"), [0, 3], "a word start first");
        assert_eq!(best(&mut m, "RESN"), [0, 1]);
        // Scattered: g-t-r in "Go to Resources".
        assert_eq!(best(&mut m, "gtr")[0], 2);
        assert!(best(&mut m, "zzz").is_empty());
    }

    #[test]
    fn a_longer_query_narrows_the_last_matches_and_a_shorter_one_starts_over() {
        let mut m = Matcher::default();
        for i in 0..1000 {
            m.push(&format!("job_{i:04}"));
        }
        assert_eq!(m.search("07").len(), MAX_RESULTS);
        assert_eq!(best(&mut m, "0777"), [777]);
        // Going back: "077" is in 11 ids, which rank above the scattered 0…7…7 ones.
        let mut substrings = best(&mut m, "077")[..11].to_vec();
        substrings.sort_unstable();
        assert_eq!(
            substrings,
            [77, 770, 771, 772, 773, 774, 775, 776, 777, 778, 779]
        );
        assert_eq!(m.search("").len(), MAX_RESULTS);
        assert_eq!(best(&mut m, "job_0999"), [999]);
    }

    #[test]
    fn unicode_and_odd_bytes_do_not_break_matching() {
        let mut m = Matcher::default();
        m.push("Modèle ÉTÉ v2");
        m.push("model ete");
        assert_eq!(best(&mut m, "été"), [0]);
        assert_eq!(best(&mut m, "ete"), [1]);
        assert!(best(&mut m, "é\u{0}").is_empty());
    }
}
