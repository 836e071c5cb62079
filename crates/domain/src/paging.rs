//! Keyset pagination: a list's page and the key the next page starts after, both
//! made where the list's order is defined (the repository), so the key always
//! agrees with the order the database sorted by.

/// The largest page any list serves.
pub const MAX_PAGE: i64 = 100;

/// One page of a list, in the list's stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, K> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The sort key of this page's last item, when more items follow it.
    pub next: Option<K>,
}

impl<T, K> Page<T, K> {
    /// The number of rows to fetch for a page of `limit`: one more, to learn
    /// whether another page follows without a second query.
    pub fn fetch_size(limit: i64) -> i64 {
        limit.clamp(1, MAX_PAGE) + 1
    }

    /// A page from rows fetched with [`Page::fetch_size`], in list order; `key`
    /// gives a row's sort key. The extra row, when there is one, only says that
    /// another page follows.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Self {
        let limit = usize::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(1);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(key) } else { None };
        Self { items: rows, next }
    }

    /// The same page with each item converted (the next key is unchanged).
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U, K>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            next: self.next,
        })
    }

    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U, K> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn a_page_has_a_next_key_only_when_more_rows_follow() {
        let full_and_more = Page::from_rows(vec![1, 2, 3, 4], 3, |n| *n * 10);
        assert_eq!(full_and_more.items, vec![1, 2, 3]);
        assert_eq!(full_and_more.next, Some(30));
        let exactly_full = Page::from_rows(vec![1, 2, 3], 3, |n| *n);
        assert_eq!(exactly_full.next, None);
        let short = Page::from_rows(vec![1], 3, |n| *n);
        assert_eq!(short.next, None);
        assert_eq!(Page::<(), ()>::fetch_size(20), 21);
        assert_eq!(Page::<(), ()>::fetch_size(1000), 101);
    }
}
