"""PyTorch peer of `bench/run train`: forward + backward + AdamW step of a cross-attention block.

Text queries (batch 64 x 32 tokens) attend to image tokens (64 x 49) with
nn.MultiheadAttention(768, 8, dropout=0.1, batch_first=True), then residual + LayerNorm; the loss is
mean(out * target). fp32 on the CPU with torch.set_num_threads(THREADS). Prints one JSON line.
"""
import json
import sys
import time

import torch
import torch.nn as nn

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
dim, heads, batch, text_len, image_len = 768, 8, 64, 32, 49


class CrossAttentionBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, num_heads=heads, dropout=0.1, batch_first=True)
        self.layer_norm = nn.LayerNorm(dim)

    def forward(self, text, image):
        attended, _ = self.attention(text, image, image, need_weights=False)
        return self.layer_norm(text + attended)


block = CrossAttentionBlock().train()
optimizer = torch.optim.AdamW(block.parameters(), lr=1e-4, weight_decay=0.01)
text = torch.randn(batch, text_len, dim)
image = torch.randn(batch, image_len, dim)
target = torch.randn(batch, text_len, dim)


def step():
    optimizer.zero_grad(set_to_none=False)
    loss = (block(text, image) * target).mean()
    loss.backward()
    optimizer.step()


for _ in range(2):
    step()
start = time.perf_counter()
for _ in range(steps):
    step()
elapsed = time.perf_counter() - start
print(json.dumps({"steps_per_second": steps / elapsed, "threads": threads, "torch": torch.__version__}))
