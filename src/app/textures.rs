//! The one texture cache of the viewer and its slice strip: a texture per slot (a plane's view,
//! or a thumbnail of one slice along one voxel axis), re-rendered when its key changes. Keys
//! include the load generation of the case shown, so a newly loaded volume never shows a texture
//! of the one before, whatever its name.

use std::collections::HashMap;

use egui::{TextureHandle, TextureOptions};

use crate::view::SliceImage;

/// Where a texture is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextureSlot {
    /// The view of plane `index` (`Plane::ALL` order).
    View(usize),
    /// The thumbnail of `slice` along voxel `axis`.
    Thumb { axis: usize, slice: usize },
}

struct Cached {
    key: u64,
    texture: TextureHandle,
}

/// Textures by slot.
#[derive(Default)]
pub struct TextureCache {
    slots: HashMap<TextureSlot, Cached>,
}

impl TextureCache {
    /// The texture in `slot` for `key`, rendered by `render` when the slot holds another key or
    /// nothing (a view's texture is updated in place; a thumbnail's replaced).
    pub fn get_or_render(
        &mut self,
        ctx: &egui::Context,
        slot: TextureSlot,
        key: u64,
        filter: TextureOptions,
        render: impl FnOnce() -> SliceImage,
    ) -> TextureHandle {
        if let Some(c) = self.slots.get(&slot).filter(|c| c.key == key) {
            return c.texture.clone();
        }
        let image = super::viewer::to_color_image(&render());
        match self.slots.get_mut(&slot) {
            Some(c) => {
                c.texture.set(image, filter);
                c.key = key;
                c.texture.clone()
            }
            None => {
                let texture = ctx.load_texture(format!("{slot:?}"), image, filter);
                self.slots.insert(
                    slot,
                    Cached {
                        key,
                        texture: texture.clone(),
                    },
                );
                texture
            }
        }
    }

    /// Keeps the views and only the thumbnails of `axis` among `slices` (a replan drops the rest).
    pub fn keep_thumbs(&mut self, axis: usize, slices: &[usize]) {
        self.slots.retain(|slot, _| match slot {
            TextureSlot::View(_) => true,
            TextureSlot::Thumb { axis: a, slice } => *a == axis && slices.contains(slice),
        });
    }

    /// (axis, slice) of every thumbnail held.
    pub fn thumbs(&self) -> Vec<(usize, usize)> {
        let mut held: Vec<(usize, usize)> = self
            .slots
            .keys()
            .filter_map(|slot| match slot {
                TextureSlot::Thumb { axis, slice } => Some((*axis, *slice)),
                TextureSlot::View(_) => None,
            })
            .collect();
        held.sort_unstable();
        held
    }

    /// Forgets every texture.
    pub fn clear(&mut self) {
        self.slots.clear();
    }
}
