//! What a request carries besides its text: its images (`--images`, a dataset's image parts) and
//! audio clips (`--audio`), counted once per sample by `client.rs` and per turn by `work.rs`,
//! and noted on the request's record.

use crate::measure::record::RequestRecord;

/// The images and audio clips a request carries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Media {
    pub images: u32,
    /// The images' base64 bytes.
    pub image_bytes: u64,
    pub clips: u32,
    pub seconds: f64,
}

impl Media {
    /// Onto `rec`: what it carried, each kind when there is any.
    pub fn note(self, rec: &mut RequestRecord) {
        if self.images > 0 {
            (rec.images, rec.image_bytes) = (Some(self.images), Some(self.image_bytes));
        }
        if self.clips > 0 {
            (rec.audio_clips, rec.audio_seconds) = (Some(self.clips), Some(self.seconds));
        }
    }
}

/// The media of `messages`.
pub fn media_of(messages: &[crate::dataset::Message]) -> Media {
    let images = messages.iter().flat_map(|m| &m.images);
    let clips = messages.iter().flat_map(|m| &m.audio);
    Media {
        images: images.clone().count() as u32,
        // Inline, the base64 in the body; by address, the file the endpoint fetches.
        image_bytes: images
            .map(|i| match i.url {
                Some(_) => i.bytes as u64,
                None => i.base64.len() as u64,
            })
            .sum(),
        clips: clips.clone().count() as u32,
        seconds: clips.map(|a| a.seconds).sum(),
    }
}
