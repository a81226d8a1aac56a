"""Chapter 3: the semi-supervised GAN (Salimans et al., 2016) as the source builds it.

ssgan  D with K + 1 = 11 outputs (class K+1 = "generated") and its K-logit form
       (p(real|x) = Z(x) / (Z(x) + 1), Z(x) = sum_k exp l_k(x)), G trained by feature
       matching, balanced labelled subsets and the supervised-only baseline
"""
