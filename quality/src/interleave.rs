//! Team-draft interleaving: two rankings merged into one list in which each row remembers
//! which ranking contributed it. A rater judges the best of both in one pass (`/judge`), and
//! in live traffic a click credits the ranking whose row was clicked (experiments in
//! interleaving mode), which finds the better ranking with far fewer searches than an A/B
//! split.

/// Which variant a row of an interleaving came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Team {
    A,
    B,
}

/// Team-draft interleaving (Radlinski, Kurup and Joachims, 2008) of rankings `a` and `b`, at
/// most `limit` rows: like captains picking teams, the side with fewer picks so far chooses
/// next (on a tie, `a_first` tosses the coin), taking its best result not already shown. Each
/// variant's rows keep its own order and each gets a fair share of the top, so the rater
/// judges the best of both in one list without knowing which row came from which. When one
/// ranking runs out the other fills the rest.
pub fn team_draft<T: PartialEq + Clone>(
    a: &[T],
    b: &[T],
    limit: usize,
    mut a_first: impl FnMut() -> bool,
) -> Vec<(T, Team)> {
    let mut out: Vec<(T, Team)> = Vec::new();
    let (mut next_a, mut next_b) = (0, 0);
    let (mut picks_a, mut picks_b) = (0, 0);
    while out.len() < limit {
        let shown = |item: &T, out: &[(T, Team)]| out.iter().any(|(o, _)| o == item);
        while next_a < a.len() && shown(&a[next_a], &out) {
            next_a += 1;
        }
        while next_b < b.len() && shown(&b[next_b], &out) {
            next_b += 1;
        }
        let take_a = match (next_a < a.len(), next_b < b.len()) {
            (false, false) => break,
            (true, false) => true,
            (false, true) => false,
            (true, true) => picks_a < picks_b || (picks_a == picks_b && a_first()),
        };
        if take_a {
            out.push((a[next_a].clone(), Team::A));
            picks_a += 1;
        } else {
            out.push((b[next_b].clone(), Team::B));
            picks_b += 1;
        }
    }
    out
}

/// The coin of an interleaving, seeded by a text (the query for a rater, so the same query
/// interleaves the same way every time a rater comes back to it; the query id for live
/// traffic), while which side picks first still varies from one to the next.
pub fn coin(text: &str) -> impl FnMut() -> bool {
    // FNV-1a of the text, then xorshift64: fair enough for a coin, and no dependency.
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state & 1 == 1
    }
}

/// How many results the two rankings share at the top, in the same order: team draft shows
/// exactly these first, and a click on one of them cannot tell the rankings apart (both would
/// have shown it there), so live traffic credits it to neither.
pub fn common_top<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letters(rows: &[(char, Team)]) -> String {
        rows.iter().map(|(c, _)| *c).collect()
    }

    #[test]
    fn the_common_top_is_what_team_draft_shows_first() {
        let a: Vec<char> = "abcde".chars().collect();
        let b: Vec<char> = "abxyz".chars().collect();
        assert_eq!(common_top(&a, &b), 2);
        for a_first in [true, false] {
            let rows = team_draft(&a, &b, 10, || a_first);
            assert_eq!(letters(&rows[..2]), "ab");
        }
        assert_eq!(common_top(&a, &a[..3]), 3);
        assert_eq!(common_top::<char>(&[], &b), 0);
    }

    #[test]
    fn team_draft_alternates_fairly_and_keeps_each_order() {
        let a: Vec<char> = "abcde".chars().collect();
        let b: Vec<char> = "vwxyz".chars().collect();
        // A wins every toss: a, v, b, w, ...
        let rows = team_draft(&a, &b, 6, || true);
        assert_eq!(letters(&rows), "avbwcx");
        assert_eq!(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            [Team::A, Team::B, Team::A, Team::B, Team::A, Team::B]
        );
        // B wins every toss.
        assert_eq!(letters(&team_draft(&a, &b, 4, || false)), "vawb");
    }

    #[test]
    fn team_draft_shows_shared_results_once_and_credits_the_picker() {
        let a: Vec<char> = "abcd".chars().collect();
        let b: Vec<char> = "bacd".chars().collect();
        // A picks a; B's best not shown is b; A's next is c (b is shown); B's next is d.
        let rows = team_draft(&a, &b, 10, || true);
        assert_eq!(
            rows,
            [
                ('a', Team::A),
                ('b', Team::B),
                ('c', Team::A),
                ('d', Team::B)
            ]
        );
        // The same ranking twice interleaves to itself.
        assert_eq!(letters(&team_draft(&a, &a, 10, || false)), "abcd");
    }

    #[test]
    fn team_draft_evens_the_picks_before_tossing_again() {
        let a: Vec<char> = "abc".chars().collect();
        let b: Vec<char> = "xyz".chars().collect();
        // Tosses: B, then A; after each, the side behind picks without a toss.
        let mut tosses = [false, true].into_iter();
        let rows = team_draft(&a, &b, 4, || tosses.next().unwrap_or(true));
        assert_eq!(letters(&rows), "xaby");
    }

    #[test]
    fn team_draft_fills_from_the_longer_ranking_and_stops_at_the_limit() {
        let a: Vec<char> = "a".chars().collect();
        let b: Vec<char> = "wxyz".chars().collect();
        let rows = team_draft(&a, &b, 3, || true);
        assert_eq!(letters(&rows), "awx");
        assert!(team_draft::<char>(&[], &[], 10, || true).is_empty());
        assert_eq!(letters(&team_draft(&[], &b, 2, || true)), "wx");
    }

    #[test]
    fn the_coin_is_the_same_for_a_query_and_fair_across_many() {
        let first: Vec<bool> = (0..8)
            .map({
                let mut c = coin("enter sandman");
                move |_| c()
            })
            .collect();
        let again: Vec<bool> = (0..8)
            .map({
                let mut c = coin("enter sandman");
                move |_| c()
            })
            .collect();
        assert_eq!(first, again);
        let heads = (0..1000).filter(|i| coin(&format!("query {i}"))()).count();
        assert!((400..600).contains(&heads), "{heads} heads in 1000");
    }
}
