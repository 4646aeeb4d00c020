//! How panes share the screen: a tree of side-by-side and above/below splits, each leaf a
//! pane. Splitting, closing and cycling focus are edits of this tree; drawing asks it for rects.
//!
//! The tree is at most [`MAX_PANES`] leaves deep, and every walk is iterative.

use super::reader::PaneId;
use ratatui::layout::{Constraint, Direction, Layout as RLayout, Rect};

/// More panes than this would leave each too small to read on any real terminal.
pub const MAX_PANES: usize = 12;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Pane(PaneId),
    Split(Direction, Vec<Node>),
}

/// The split tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    root: Node,
}

impl Splits {
    pub fn new(first: PaneId) -> Splits {
        Splits {
            root: Node::Pane(first),
        }
    }

    /// The panes in reading order (left to right, top to bottom within each split).
    pub fn order(&self) -> Vec<PaneId> {
        let mut out = Vec::new();
        let mut stack = vec![&self.root];
        while let Some(n) = stack.pop() {
            match n {
                Node::Pane(id) => out.push(*id),
                Node::Split(_, kids) => stack.extend(kids.iter().rev()),
            }
        }
        out
    }

    /// Puts `new` beside `at`, in `dir` (Horizontal: side by side). False when `at` is not
    /// here or there are already [`MAX_PANES`].
    pub fn split(&mut self, at: PaneId, new: PaneId, dir: Direction) -> bool {
        if self.order().len() >= MAX_PANES {
            return false;
        }
        let mut stack = vec![&mut self.root];
        while let Some(n) = stack.pop() {
            match n {
                Node::Pane(id) if *id == at => {
                    *n = Node::Split(dir, vec![Node::Pane(at), Node::Pane(new)]);
                    return true;
                }
                Node::Pane(_) => {}
                Node::Split(d, kids) => {
                    // Beside a sibling of the same direction: one more share of that split.
                    if *d == dir
                        && let Some(i) = kids.iter().position(|k| *k == Node::Pane(at))
                    {
                        kids.insert(i + 1, Node::Pane(new));
                        return true;
                    }
                    stack.extend(kids.iter_mut());
                }
            }
        }
        false
    }

    /// Removes pane `id`; a split left with one child becomes that child. The last pane stays.
    pub fn close(&mut self, id: PaneId) -> bool {
        if self.order().len() <= 1 {
            return false;
        }
        // Find the split holding the pane by its path of child indices, then edit it: a path
        // holds no borrow, so the split can be replaced by its last child.
        let Some(path) = self.path_to_parent(id) else {
            return false;
        };
        let mut n = &mut self.root;
        for i in path {
            match n {
                Node::Split(_, kids) => n = &mut kids[i],
                Node::Pane(_) => return false,
            }
        }
        let only = match n {
            Node::Split(_, kids) => {
                kids.retain(|k| *k != Node::Pane(id));
                (kids.len() == 1).then(|| kids.pop()).flatten()
            }
            Node::Pane(_) => return false,
        };
        if let Some(only) = only {
            *n = only;
        }
        true
    }

    /// The child indices from the root to the split whose child is pane `id`.
    fn path_to_parent(&self, id: PaneId) -> Option<Vec<usize>> {
        let mut stack = vec![(&self.root, Vec::new())];
        while let Some((n, path)) = stack.pop() {
            if let Node::Split(_, kids) = n {
                if kids.contains(&Node::Pane(id)) {
                    return Some(path);
                }
                for (i, k) in kids.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(i);
                    stack.push((k, p));
                }
            }
        }
        None
    }

    /// Each pane's rectangle within `area`.
    pub fn rects(&self, area: Rect) -> Vec<(PaneId, Rect)> {
        let mut out = Vec::new();
        let mut stack = vec![(&self.root, area)];
        while let Some((n, r)) = stack.pop() {
            match n {
                Node::Pane(id) => out.push((*id, r)),
                Node::Split(dir, kids) => {
                    let share = kids.len().max(1) as u32;
                    let parts = RLayout::default()
                        .direction(*dir)
                        .constraints(kids.iter().map(|_| Constraint::Ratio(1, share)))
                        .split(r);
                    for (k, rect) in kids.iter().zip(parts.iter()).rev() {
                        stack.push((k, *rect));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_close_and_order() {
        let mut s = Splits::new(1);
        assert!(s.split(1, 2, Direction::Horizontal));
        assert!(s.split(2, 3, Direction::Vertical));
        assert!(s.split(1, 4, Direction::Horizontal));
        assert_eq!(s.order(), vec![1, 4, 2, 3]);
        let r = s.rects(Rect::new(0, 0, 90, 30));
        assert_eq!(r.len(), 4);
        // 1, 4 and the (2 over 3) column share the width in thirds.
        assert_eq!(r[0].1.width, 30);
        assert_eq!(r[2].1.height + r[3].1.height, 30);
        assert!(s.close(2));
        assert_eq!(s.order(), vec![1, 4, 3]);
        assert!(s.close(4) && s.close(3));
        assert!(!s.close(1), "the last pane stays");
        assert_eq!(s, Splits::new(1));
    }

    #[test]
    fn at_most_max_panes() {
        let mut s = Splits::new(0);
        for i in 1..MAX_PANES as u32 {
            assert!(s.split(i - 1, i, Direction::Vertical));
        }
        assert!(!s.split(0, 99, Direction::Horizontal));
    }
}
