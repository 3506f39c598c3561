// The safety rules a profile must pass before any operation, as pure functions. Each finding names
// the YAML path it is about; the loader turns paths into file:line:col.
import { contains, isIpv4, overlaps, parseCidr, rangeOf, ipToNumber, type Ipv4Range } from './ipv4.ts'
import { expandMembers, groupPath, ROLE_TAGS, type Profile, type ProfileConfig, type ProfileMember, type Role, type YamlPath } from '../profile.ts'

export interface RuleIssue {
  path: YamlPath
  message: string
  severity: 'error' | 'warning'
}

const error = (path: YamlPath, message: string): RuleIssue => ({ path, message, severity: 'error' })
const warning = (path: YamlPath, message: string): RuleIssue => ({ path, message, severity: 'warning' })

const fieldPath = (m: ProfileMember, field: 'vmid' | 'ip' | 'mac' | 'node' | 'name'): YamlPath => {
  if (field === 'vmid' && !m.vmidAssigned) return [...groupPath(m.role), 'start_vmid']
  if (m.assigned) return [...m.at, field]
  return field === 'name' ? [...m.at, 'name_prefix'] : m.at
}

/** The node network (gateway/prefix) when both are set. */
export function nodeNetwork(profile: Profile): Ipv4Range | undefined {
  const { gateway, prefix } = profile.network
  return gateway && prefix ? rangeOf(gateway, prefix) : undefined
}

/** Every rule that concerns one profile on its own (plus cluster-config.yaml). */
export function checkProfile(profile: Profile, config: ProfileConfig, fileBase: string): RuleIssue[] {
  // Assignments kept for scaling up are checked like the others: they are part of the plan.
  const members = expandMembers(profile, config, { reserved: true })
  return [
    ...checkFileName(profile, fileBase),
    ...checkTypeSections(profile),
    ...checkGroups(profile, members),
    ...checkVmidRange(members, config),
    ...checkNodes(members, config),
    ...checkNetwork(profile, members),
    ...checkTags(profile, config),
    ...checkControlPlaneCount(profile),
  ]
}

export function checkFileName(profile: Profile, fileBase: string): RuleIssue[] {
  return profile.name === fileBase ? [] : [error(['name'], `must equal the file name: "${profile.name}" is in ${fileBase}.yaml (rename the file or the cluster)`)]
}

export function checkTypeSections(profile: Profile): RuleIssue[] {
  const out: RuleIssue[] = []
  if (profile.type === 'talos') {
    if (!profile.talos) out.push(error(['talos'], 'is required when type is talos'))
    for (const key of ['api_endpoint', 'pod_cidr', 'service_cidr'] as const) {
      if (!profile.network[key]) out.push(error(['network', key], 'is required when type is talos'))
    }
    if (profile.nodes.controlplane.count < 1) out.push(error([...groupPath('controlplane'), 'count'], 'a Talos cluster needs at least one control plane'))
  } else {
    if (profile.talos) out.push(error(['talos'], 'only allowed with type: talos (generic clusters get no bootstrap)'))
    if (profile.flux) out.push(error(['flux'], 'Flux bootstrap needs type: talos (generic clusters get no bootstrap)'))
  }
  const total = profile.nodes.controlplane.count + (profile.nodes.workers?.count ?? 0)
  if (total < 1) out.push(error(['nodes'], 'the cluster has no VMs: set controlplane.count or workers.count'))
  return out
}

/** Counts vs assignments, and uniqueness of names, VMIDs, IPs and MACs inside the profile. */
export function checkGroups(profile: Profile, members: ProfileMember[]): RuleIssue[] {
  const out: RuleIssue[] = []
  for (const role of ['controlplane', 'worker'] as Role[]) {
    const group = role === 'controlplane' ? profile.nodes.controlplane : profile.nodes.workers
    if (!group) continue
    const n = group.assignments.length
    if (n !== 0 && n < group.count) {
      out.push(error([...groupPath(role), 'assignments'], `lists ${n} VM${n === 1 ? '' : 's'} but count is ${group.count}: list at least count VMs (entries beyond count are kept for scaling up), or none to number them automatically`))
    }
    const missingVmid = members.find((m) => m.role === role && m.vmid === undefined)
    if (missingVmid) out.push(error([...groupPath(role), 'start_vmid'], `is required unless every assignment has a vmid (${missingVmid.name} has none)`))
    if (profile.type === 'talos' && group.count > 0 && n === 0) {
      out.push(error([...groupPath(role), 'assignments'], 'Talos nodes need static IPs: list each VM with its ip (talosctl reaches the nodes by address)'))
    }
  }
  if (profile.type === 'talos') {
    for (const m of members.filter((x) => x.assigned && !x.ip)) out.push(error([...m.at, 'ip'], `is required for Talos nodes (${m.name})`))
  }
  const unique = (field: 'name' | 'vmid' | 'ip' | 'mac', label: string) => {
    const seen = new Map<string, ProfileMember>()
    for (const m of members) {
      const v = m[field]
      if (v === undefined) continue
      const key = String(v).toLowerCase()
      const first = seen.get(key)
      if (first) out.push(error(fieldPath(m, field), `${label} ${v} is used twice (${first.name} and ${m.name})`))
      else seen.set(key, m)
    }
  }
  unique('name', 'name')
  unique('vmid', 'VMID')
  unique('ip', 'IP')
  unique('mac', 'MAC')
  return out
}

export function checkVmidRange(members: ProfileMember[], config: ProfileConfig): RuleIssue[] {
  const { min, max } = config.vmid_ranges.vms
  return members
    .filter((m) => m.vmid !== undefined && (m.vmid < min || m.vmid > max))
    .map((m) => error(fieldPath(m, 'vmid'), `VMID ${m.vmid} of ${m.name} is outside vmid_ranges.vms (${min}-${max}) of cluster-config.yaml`))
}

export function checkNodes(members: ProfileMember[], config: ProfileConfig): RuleIssue[] {
  const known = config.cluster.nodes.map((n) => n.name)
  return members
    .filter((m) => m.node !== undefined && !known.includes(m.node))
    .map((m) => error(fieldPath(m, 'node'), `unknown Proxmox node "${m.node}" (cluster-config.yaml has: ${known.join(', ')})`))
}

export function checkNetwork(profile: Profile, members: ProfileMember[]): RuleIssue[] {
  const out: RuleIssue[] = []
  const { gateway, prefix, pod_cidr, service_cidr, api_endpoint } = profile.network
  if (gateway && prefix === undefined) out.push(error(['network', 'prefix'], 'is required with network.gateway (the node network is gateway/prefix)'))
  if (prefix !== undefined && !gateway) out.push(error(['network', 'gateway'], 'is required with network.prefix (the node network is gateway/prefix)'))
  const vip = profile.talos?.vip?.ip
  const withIp = members.filter((m) => m.ip)
  if ((withIp.length || vip) && !gateway && prefix === undefined) {
    out.push(error(['network'], 'static IPs need network.gateway and network.prefix (cloud-init ipconfig0 ip=<ip>/<prefix>,gw=<gateway>)'))
  }
  const net = nodeNetwork(profile)
  if (net) {
    const broadcast = net.last
    const special = (ip: string) => ipToNumber(ip) === net.first || ipToNumber(ip) === broadcast
    for (const m of withIp) {
      const ip = m.ip!
      if (!contains(net, ip)) out.push(error(fieldPath(m, 'ip'), `${ip} of ${m.name} is outside the node network ${net.text} (network.gateway/prefix)`))
      else if (special(ip)) out.push(error(fieldPath(m, 'ip'), `${ip} of ${m.name} is the network or broadcast address of ${net.text}`))
      else if (ip === gateway) out.push(error(fieldPath(m, 'ip'), `${ip} of ${m.name} is the gateway`))
    }
    if (vip && !contains(net, vip)) out.push(error(['talos', 'vip', 'ip'], `${vip} is outside the node network ${net.text}`))
    if (vip && vip === gateway) out.push(error(['talos', 'vip', 'ip'], `${vip} is the gateway`))
    for (const [key, cidr] of [['pod_cidr', pod_cidr], ['service_cidr', service_cidr]] as const) {
      if (cidr && overlaps(parseCidr(cidr), net)) out.push(error(['network', key], `${cidr} overlaps the node network ${net.text}`))
    }
  }
  if (vip) {
    const holder = members.find((m) => m.ip === vip)
    if (holder) out.push(error(['talos', 'vip', 'ip'], `the VIP ${vip} is also the address of ${holder.name}; a VIP must be an unused address`))
  }
  if (pod_cidr && service_cidr && overlaps(parseCidr(pod_cidr), parseCidr(service_cidr))) {
    out.push(error(['network', 'service_cidr'], `${service_cidr} overlaps pod_cidr ${pod_cidr}`))
  }
  if (profile.type === 'talos' && api_endpoint && isIpv4(api_endpoint)) {
    const cpIps = members.filter((m) => m.role === 'controlplane').map((m) => m.ip)
    if (api_endpoint !== vip && !cpIps.includes(api_endpoint)) {
      out.push(error(['network', 'api_endpoint'], `${api_endpoint} is neither the VIP nor a control-plane address`))
    }
  }
  return out
}

export function checkTags(profile: Profile, config: ProfileConfig): RuleIssue[] {
  const out: RuleIssue[] = []
  const reserved = new Map<string, string>([
    [ROLE_TAGS.controlplane, 'role tags are added automatically'],
    [ROLE_TAGS.worker, 'role tags are added automatically'],
  ])
  if (config.tags?.managed) reserved.set(config.tags.managed, 'the ownership tag (tags.managed) is added automatically')
  if (config.tags?.templates) reserved.set(config.tags.templates, 'that is the template tag (tags.templates)')
  const seen = new Set<string>()
  profile.tags.forEach((tag, i) => {
    const why = reserved.get(tag)
    if (why) out.push(error(['tags', i], `"${tag}" is reserved: ${why}`))
    if (seen.has(tag)) out.push(error(['tags', i], `"${tag}" is listed twice`))
    seen.add(tag)
  })
  return out
}

export function checkControlPlaneCount(profile: Profile): RuleIssue[] {
  const n = profile.nodes.controlplane.count
  if (n < 2 || n % 2 === 1) return []
  return [warning([...groupPath('controlplane'), 'count'], `${n} control planes tolerate no more failures than ${n - 1} (etcd quorum); use an odd number`)]
}

const normalizePath = (p: string) => p.replace(/^\.?\/+/, '').replace(/\/+$/, '')
const normalizeRepo = (r: string) => r.trim().replace(/\.git$/, '').replace(/\/+$/, '').toLowerCase()

/** Rules between this profile and every other profile: nothing may be shared. */
export function checkIsolation(profile: Profile, others: { file: string; profile: Profile }[]): RuleIssue[] {
  const out: RuleIssue[] = []
  const members = expandMembers(profile, undefined, { reserved: true })
  const ourNet = nodeNetwork(profile)
  const cidrs = (p: Profile) =>
    [
      ['pod_cidr', p.network.pod_cidr],
      ['service_cidr', p.network.service_cidr],
    ].filter((x): x is [string, string] => Boolean(x[1]))

  for (const { file, profile: other } of others) {
    const who = `cluster ${other.name} (${file})`
    const theirs = expandMembers(other, undefined, { reserved: true })
    const theirVmids = new Map(theirs.filter((m) => m.vmid !== undefined).map((m) => [m.vmid!, m]))
    const theirIps = new Map<string, string>(theirs.filter((m) => m.ip).map((m) => [m.ip!, m.name]))
    if (other.talos?.vip) theirIps.set(other.talos.vip.ip, 'its VIP')
    for (const m of members) {
      const clash = m.vmid !== undefined ? theirVmids.get(m.vmid) : undefined
      if (clash) out.push(error(fieldPath(m, 'vmid'), `VMID ${m.vmid} of ${m.name} is also VMID of ${clash.name} in ${who}`))
      if (m.ip && theirIps.has(m.ip)) out.push(error(fieldPath(m, 'ip'), `${m.ip} of ${m.name} is also used by ${theirIps.get(m.ip)} in ${who}`))
    }
    const vip = profile.talos?.vip?.ip
    if (vip && theirIps.has(vip)) out.push(error(['talos', 'vip', 'ip'], `${vip} is also used by ${theirIps.get(vip)} in ${who}`))

    if (profile.flux && other.flux && normalizeRepo(profile.flux.repo) === normalizeRepo(other.flux.repo) && normalizePath(profile.flux.path) === normalizePath(other.flux.path)) {
      out.push(error(['flux', 'path'], `"${profile.flux.path}" is also the Flux path of ${who}; two clusters reconciling one path fight each other`))
    }

    const theirNet = nodeNetwork(other)
    const theirRanges: [string, Ipv4Range][] = [...cidrs(other).map(([k, c]) => [`${k} ${c}`, parseCidr(c)] as [string, Ipv4Range]), ...(theirNet ? [[`node network ${theirNet.text}`, theirNet] as [string, Ipv4Range]] : [])]
    for (const [key, cidr] of cidrs(profile)) {
      const hit = theirRanges.find(([, r]) => overlaps(parseCidr(cidr), r))
      if (hit) out.push(error(['network', key], `${cidr} overlaps the ${hit[0]} of ${who}`))
    }
    if (ourNet) {
      const hit = cidrs(other).find(([, c]) => overlaps(parseCidr(c), ourNet))
      if (hit) out.push(error(['network', 'gateway'], `the node network ${ourNet.text} overlaps the ${hit[0]} ${hit[1]} of ${who}`))
    }
  }

  const usedElsewhere = new Map<string, string[]>()
  for (const { profile: other } of others) for (const t of other.tags) usedElsewhere.set(t, [...(usedElsewhere.get(t) ?? []), other.name])
  if (profile.tags.length && profile.tags.every((t) => usedElsewhere.has(t))) {
    const users = [...new Set(profile.tags.flatMap((t) => usedElsewhere.get(t)!))].join(', ')
    out.push(error(['tags'], `needs a tag no other profile uses (e.g. "${profile.name}"): every tag is also used by ${users}, so a tag-based teardown could match their VMs`))
  }
  return out
}
