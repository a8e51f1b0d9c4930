import unittest

import torch

from lookbook_training.ctl.train import Compatibility, LocalGraph, QueryGraph


def model(d=16, k=8):
    torch.manual_seed(0)
    m = Compatibility(d, k)
    with torch.no_grad():  # away from the near-identity start, so every term matters
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return m.eval()


class CompatibilityTest(unittest.TestCase):
    def test_score_is_the_query_vector_dot_product_plus_the_local_term(self):
        # The service retrieves by query(s)·p in the index and re-scores with local(): they must add up.
        m = model()
        scene, products, regions = torch.randn(2, 16), torch.randn(2, 5, 16), torch.randn(2, 3, 16)
        mask = torch.ones(2, 3)
        with torch.no_grad():
            score = m.score(scene, products, regions, mask)
            query = QueryGraph(m)(scene)
            for n in range(2):
                local = LocalGraph(m)(products[n], regions[n])
                torch.testing.assert_close(score[n], products[n] @ query[n] + local)

    def test_padding_regions_does_not_change_the_local_term(self):
        m = model()
        products, regions = torch.randn(1, 4, 16), torch.randn(1, 2, 16)
        padded = torch.cat([regions, torch.randn(1, 3, 16) * 10], dim=1)
        with torch.no_grad():
            plain = m.local(products, regions, torch.ones(1, 2))
            masked = m.local(products, padded, torch.tensor([[1.0, 1, 0, 0, 0]]))
        torch.testing.assert_close(plain, masked)

    def test_training_starts_from_visual_similarity(self):
        torch.manual_seed(0)
        m = Compatibility(16, 8).eval()
        scene, products = torch.randn(1, 16), torch.randn(1, 6, 16)
        with torch.no_grad():
            glob = products[0] @ m.query(scene)[0]
        # α = 1 and A Bᵀ ≈ 0: the global term ranks as the plain dot product does.
        self.assertEqual(torch.argsort(glob).tolist(), torch.argsort(products[0] @ scene[0]).tolist())


if __name__ == "__main__":
    unittest.main()
