# PyTorch twin of msdkit's pkg/unet U-Net training step, driven by cmd/unetbench.
# Usage: python3 torch_twin.py DIMS IN_CH CLASSES BASE LEVELS BATCH S0 S1 [S2] ; then one line per
# command on stdin: "step" runs one training step and prints its wall and CPU times in seconds and the loss; "quit" exits.
# Environment: TORCH_THREADS (CPU threads), TORCH_DEVICE (cpu or cuda), TORCH_BF16=1 (bf16 autocast,
# PyTorch's mixed precision). On "quit" with cuda it prints "peak_mib N", the peak allocated memory.
import os, sys, time, torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
device = torch.device(os.environ.get("TORCH_DEVICE", "cpu"))
bf16 = os.environ.get("TORCH_BF16") == "1"
dims, in_ch, classes, base, levels, batch = map(int, sys.argv[1:7])
patch = list(map(int, sys.argv[7:]))
Conv = nn.Conv3d if dims == 3 else nn.Conv2d
Norm = nn.InstanceNorm3d if dims == 3 else nn.InstanceNorm2d
Up = nn.ConvTranspose3d if dims == 3 else nn.ConvTranspose2d

def block(cin, cout, stride):
    return nn.Sequential(Conv(cin, cout, 3, stride, 1, bias=False), Norm(cout, eps=1e-5, affine=True),
                         nn.LeakyReLU(0.01))

class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        f = [base * 2 ** l for l in range(levels)]
        self.enc = nn.ModuleList()
        cin = in_ch
        for l in range(levels):
            self.enc.append(nn.Sequential(block(cin, f[l], 1 if l == 0 else 2), block(f[l], f[l], 1)))
            cin = f[l]
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for l in range(levels - 2, -1, -1):
            self.up.append(Up(cin, f[l], 2, 2, bias=True))
            self.dec.append(nn.Sequential(block(2 * f[l], f[l], 1), block(f[l], f[l], 1)))
            cin = f[l]
        self.head = Conv(cin, classes, 1, bias=True)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
        for i, (u, d) in enumerate(zip(self.up, self.dec)):
            x = d(torch.cat([u(x), skips[levels - 2 - i]], 1))
        return self.head(x)

def dice_ce(logits, labels):
    logp = F.log_softmax(logits, 1)
    y = F.one_hot(labels, classes).movedim(-1, 1).to(logits.dtype)
    ce = -(y * logp).sum(1).mean()
    p = logp.exp()
    axes = [0] + list(range(2, logits.dim()))
    inter = (p * y).sum(axes)
    denom = p.sum(axes) + y.sum(axes)
    dice = (2 * inter + 1e-5) / (denom + 1e-5)
    return ce + 1 - dice[1:].mean()

torch.manual_seed(0)
net = UNet().to(device)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
x = torch.randn(batch, in_ch, *patch, device=device)
labels = torch.randint(0, classes, (batch, *patch), device=device)

def step():
    t0, c0 = time.perf_counter(), time.process_time()
    opt.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = net(x)
    loss = dice_ce(logits.float(), labels)
    loss.backward()
    opt.step()
    value = loss.item()  # waits for the device
    return time.perf_counter() - t0, time.process_time() - c0, value

step()  # warm-up
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "quit":
        if device.type == "cuda":
            print(f"peak_mib {torch.cuda.max_memory_allocated() / 2**20:.0f}", flush=True)
        break
    if cmd == "step":
        dt, cpu, loss = step()
        print(f"{dt:.6f} {cpu:.6f} {loss:.6f}", flush=True)
