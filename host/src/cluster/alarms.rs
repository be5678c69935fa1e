//! Alarms across the cluster: the owner of an object with an alarm also records it in etcd
//! (`/<name>/alarms/<namespace>/<id>` = due time, name), so that when the owner dies the alarm
//! still fires: every node looks for due alarms of objects that no node claims now
//! (`unclaimed_due`) and delivers them to itself, which claims the object, rebuilds it from
//! the log and runs the alarm.

use etcd_client::GetOptions;

use super::Cluster;

/// A due alarm of an object no node owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAlarm {
    pub namespace: String,
    pub id: [u8; 32],
    pub name: Option<String>,
    pub due_ms: u64,
}

impl Cluster {
    fn alarm_key(&self, namespace: &str, id: &[u8; 32]) -> String {
        format!("/{}/alarms/{namespace}/{}", self.name, hex::encode(id))
    }

    /// Records the object's alarm (`None`: it has none). Durable in etcd once it returns.
    pub async fn set_alarm(
        &self,
        namespace: &str,
        id: &[u8; 32],
        name: Option<&str>,
        due_ms: Option<u64>,
    ) -> anyhow::Result<()> {
        let key = self.alarm_key(namespace, id);
        let mut etcd = self.etcd.clone();
        match due_ms {
            Some(due_ms) => {
                let value = serde_json::json!({ "due": due_ms, "name": name }).to_string();
                etcd.put(key, value, None).await?;
            }
            None => {
                etcd.delete(key, None).await?;
            }
        }
        Ok(())
    }

    /// The alarms due by `now_ms` whose objects no node claims (their owner died), at most
    /// `limit` of them.
    pub async fn unclaimed_due(&self, now_ms: u64, limit: usize) -> anyhow::Result<Vec<DueAlarm>> {
        let prefix = format!("/{}/alarms/", self.name);
        let mut etcd = self.etcd.clone();
        let mut due = Vec::new();
        for kv in self.range(&prefix).await? {
            let Some((namespace, id)) = kv
                .key_str()
                .ok()
                .and_then(|k| k.strip_prefix(&prefix))
                .and_then(|rest| rest.split_once('/'))
            else {
                continue;
            };
            let Some(id) = hex::decode(id)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
            else {
                continue;
            };
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(kv.value()) else {
                continue;
            };
            let Some(due_ms) = value["due"].as_u64().filter(|d| *d <= now_ms) else {
                continue;
            };
            let claim = format!("/{}/claims/{namespace}/{}", self.name, hex::encode(id));
            let claimed = etcd
                .get(claim, Some(GetOptions::new().with_count_only()))
                .await?;
            if claimed.count() == 0 {
                due.push(DueAlarm {
                    namespace: namespace.to_owned(),
                    id,
                    name: value["name"].as_str().map(str::to_owned),
                    due_ms,
                });
                if due.len() >= limit {
                    break;
                }
            }
        }
        Ok(due)
    }
}
