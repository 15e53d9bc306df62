//! A memo that iptables can read the `ip nat` table, so that choosing the
//! masquerade backend (`super::iptables_works`) need not list POSTROUTING
//! on every ADD: that chain holds a jump per masqueraded container, and
//! its listing took 7 ms of a 22 ms ADD with 1000 containers attached
//! (Documentation/performance.md, "Scale").
//!
//! nf_tables numbers a namespace's rule sets: every committed transaction,
//! anyone's, in any table, advances the namespace's generation by one.
//! The memo, one line in [`PATH`], names a generation at which the table
//! was seen readable, with the namespace's cookie and the boot's id. It
//! proves something only while the generation has not moved. A plugin's
//! own commits carry it forward: when the generation after them is the
//! one before plus exactly the transactions this thread committed there,
//! nobody else changed anything in between, and what the plugin changed
//! leaves the table readable (whatever the suite writes into `nat` is
//! written as iptables writes it; other tables do not matter).
//! Anything else (a tool ran, another process committed, the file is
//! missing, stale or unwritable) only means the next detection lists the
//! chain again.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::nft::{self, Session};

/// Runtime state, cleared at boot like the plugins' other state under
/// `/run/cni`. One line for the whole node: a namespace whose cookie is
/// not the one written reads it as a miss.
#[cfg_attr(test, allow(dead_code))]
const PATH: &str = "/run/cni/iptables-nat-readable";

/// A namespace's rule set at one generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Point {
    boot: String,
    cookie: u64,
    generation: u32,
}

/// Where this thread last saw the table readable, its commit count then,
/// and whether the memo already says so.
struct Base {
    point: Point,
    commits: u32,
    written: bool,
}

thread_local! {
    static BASE: RefCell<Option<Base>> = const { RefCell::new(None) };
    static KEPT: RefCell<Option<Session>> = const { RefCell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// Unit tests keep the memo off the machine's `/run`: none unless a
    /// test names its own file.
    static TEST_PATH: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// For a unit test: this thread's memo lives at `path`.
#[cfg(test)]
pub(super) fn use_path(path: PathBuf) {
    TEST_PATH.with(|p| *p.borrow_mut() = Some(path));
}

fn path() -> Option<PathBuf> {
    #[cfg(test)]
    return TEST_PATH.with(|p| p.borrow().clone());
    #[cfg(not(test))]
    Some(PathBuf::from(PATH))
}

impl Point {
    /// Where `session`'s namespace is now; None where the kernel cannot
    /// say (no netns cookie before Linux 5.14).
    pub(super) fn now(session: &mut Session) -> Option<Point> {
        Some(Point {
            boot: boot_id()?.to_string(),
            cookie: session.netns_cookie()?,
            generation: session.generation().ok()?,
        })
    }

    /// The same namespace and rule set as `self` after `commits` more
    /// transactions, and no other.
    fn then(&self, commits: u32) -> Point {
        Point {
            generation: self.generation.wrapping_add(commits),
            ..self.clone()
        }
    }

    /// One line of fixed width with a checksum: the memo is rewritten in
    /// place (a rename costs a journal commit where `/run` is not a
    /// tmpfs), so a reader racing a writer may see a mix of two lines,
    /// which the checksum turns into a miss.
    fn encode(&self) -> String {
        let body = format!("{} {:020} {:010}", self.boot, self.cookie, self.generation);
        format!("{body} {:016x}\n", fnv1a(&body))
    }

    fn decode(text: &str) -> Option<Point> {
        let line = text.lines().next()?;
        let (body, sum) = line.rsplit_once(' ')?;
        if u64::from_str_radix(sum, 16).ok()? != fnv1a(body) {
            return None;
        }
        let mut words = body.split(' ');
        let point = Point {
            boot: words.next()?.to_string(),
            cookie: words.next()?.parse().ok()?,
            generation: words.next()?.parse().ok()?,
        };
        words.next().is_none().then_some(point)
    }
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The kernel's id of this boot: a memo from before a reboot (a `/run`
/// that is not a tmpfs) must not match a generation counted again.
fn boot_id() -> Option<&'static str> {
    static ID: OnceLock<Option<String>> = OnceLock::new();
    ID.get_or_init(|| {
        let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let id = id.trim();
        (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| id.to_string())
    })
    .as_deref()
}

pub(super) fn read() -> Option<Point> {
    Point::decode(&std::fs::read_to_string(path()?).ok()?)
}

/// Whether the memo says the table is readable at `now`; if so, `now` is
/// the base this thread's commits carry forward.
pub(super) fn proves(now: &Point) -> bool {
    let hit = read().as_ref() == Some(now);
    if hit {
        set_base(now.clone(), true);
    }
    hit
}

/// A listing made after `at` showed the table readable: that was `at`'s
/// rule set if nothing was committed since.
pub(super) fn listed_readable(at: Point, session: &mut Session) {
    if session.generation().ok() == Some(at.generation) {
        set_base(at, false);
    }
}

fn set_base(point: Point, written: bool) {
    let commits = nft::commits_in(point.cookie);
    BASE.with(|b| {
        *b.borrow_mut() = Some(Base {
            point,
            commits,
            written,
        })
    });
}

/// Before a teardown's commits through `session`: takes the memo as the
/// base if it holds for the namespace now, so that a DEL between two ADDs
/// does not cost the second one its listing.
pub(super) fn resume(session: &mut Session) {
    let Some(memo) = read() else {
        return;
    };
    if Point::now(session).as_ref() == Some(&memo) {
        set_base(memo, true);
    }
}

/// Keeps the detection's session for the setup that follows on this
/// thread ([`take_session`]): one socket fewer to close (see
/// `super::converge::converge_in`).
pub(super) fn keep_session(session: Session) {
    KEPT.with(|k| *k.borrow_mut() = Some(session));
}

/// The session [`keep_session`] kept on this thread, if any.
pub(super) fn take_session() -> Option<Session> {
    KEPT.with(|k| k.borrow_mut().take())
}

/// After this thread's commits (`session` is one of the namespace's):
/// records the rule set now if they are all that happened since the base.
pub(super) fn carry(session: &mut Session) {
    let Some(base) = BASE.with(|b| b.borrow_mut().take()) else {
        return;
    };
    let Some(now) = Point::now(session) else {
        return;
    };
    let ours = nft::commits_in(base.point.cookie).wrapping_sub(base.commits);
    if now != base.point.then(ours) {
        return;
    }
    let written = (base.written && ours == 0) || write(&now);
    set_base(now, written);
}

/// Overwrites the memo in place (see [`Point::encode`]).
fn write(point: &Point) -> bool {
    use std::io::Write;
    let Some(path) = path() else {
        return false;
    };
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
    };
    let file = open().or_else(|_| {
        std::fs::create_dir_all(path.parent().unwrap_or(&path))?;
        open()
    });
    file.and_then(|mut f| f.write_all(point.encode().as_bytes()))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_trip_and_refuse_anything_else() {
        let p = Point {
            boot: "0e1f-aa".into(),
            cookie: 4096,
            generation: u32::MAX,
        };
        let line = p.encode();
        assert_eq!(Point::decode(&line), Some(p.clone()));
        // What an older, longer line leaves behind the new one.
        assert_eq!(Point::decode(&format!("{line}0 1 2 3\n")), Some(p.clone()));
        assert_eq!(p.then(1).generation, 0);
        let q = Point {
            generation: 7,
            ..p.clone()
        };
        let torn = format!("{}{}", &line[..30], &q.encode()[30..]);
        let sum = |body: &str| format!("{body} {:016x}", fnv1a(body));
        for bad in [
            String::new(),
            torn,
            line.replace("4096", "4097"),
            sum("0e1f-aa 4096"),
            sum("0e1f-aa x 1"),
            sum("0e1f-aa 4096 -1"),
            sum("0e1f-aa 4096 1 extra"),
            sum("0e1f-aa 4096 4294967296"),
        ] {
            assert_eq!(Point::decode(&bad), None, "{bad:?}");
        }
    }
}
