//! What a model runs on, as plain data for the `start` event and the TUI: the device's name
//! and, on a CUDA GPU, its model name and memory.

use candle_core::{Device, DeviceLocation};
use serde::{Deserialize, Serialize};

/// The device of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `cpu`, `cuda:N` or `metal`.
    pub name: String,
    /// The GPU's model, e.g. `NVIDIA H200` (CUDA only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// The GPU's total memory, MiB (CUDA only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_mib: Option<u64>,
    /// GPU memory in use (by every process) when the info was taken, MiB (CUDA only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_mib: Option<u64>,
}

impl DeviceInfo {
    /// Describes `device`; the GPU fields stay empty where the driver does not answer.
    pub fn of(device: &Device) -> Self {
        #[cfg_attr(not(feature = "cuda"), allow(unused_mut))]
        let mut info = Self {
            name: match device.location() {
                DeviceLocation::Cpu => "cpu".into(),
                DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
                DeviceLocation::Metal { .. } => "metal".into(),
            },
            gpu: None,
            memory_total_mib: None,
            memory_used_mib: None,
        };
        #[cfg(feature = "cuda")]
        if let Device::Cuda(d) = device {
            let stream = d.cuda_stream();
            let ctx = stream.context();
            info.gpu = ctx.name().ok();
            if let Ok((free, total)) = ctx.mem_get_info() {
                info.memory_total_mib = Some(total as u64 >> 20);
                info.memory_used_mib = Some((total - free) as u64 >> 20);
            }
        }
        info
    }

    /// One line for a header: `cuda:0 · NVIDIA H200 · 1.2 / 139.8 GiB`, or just `cpu`.
    pub fn summary(&self) -> String {
        let mut s = self.name.clone();
        if let Some(g) = &self.gpu {
            s.push_str(&format!(" · {g}"));
        }
        if let Some(total) = self.memory_total_mib {
            let used = self.memory_used_mib.unwrap_or(0);
            s.push_str(&format!(
                " · {:.1} / {:.1} GiB",
                used as f64 / 1024.0,
                total as f64 / 1024.0
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_has_no_gpu_fields() {
        let i = DeviceInfo::of(&Device::Cpu);
        assert_eq!(i.name, "cpu");
        assert_eq!(i.summary(), "cpu");
        let json = serde_json::to_string(&i).unwrap();
        assert_eq!(json, r#"{"name":"cpu"}"#);
    }

    #[test]
    fn gpu_summary_shows_model_and_memory() {
        let i = DeviceInfo {
            name: "cuda:1".into(),
            gpu: Some("NVIDIA H200".into()),
            memory_total_mib: Some(143_771),
            memory_used_mib: Some(1_229),
        };
        assert_eq!(i.summary(), "cuda:1 · NVIDIA H200 · 1.2 / 140.4 GiB");
        let back: DeviceInfo = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
        assert_eq!(back, i);
    }
}
