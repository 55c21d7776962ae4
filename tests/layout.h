/* layout.h — converting maps between the ref path's channels-last layout
 * [N][P][C] and the blas convolution's channel-major layout [C][N·P], so
 * tests can compare the two paths element by element. */
#ifndef CNN_TESTS_LAYOUT_H
#define CNN_TESTS_LAYOUT_H

static inline void to_channel_major(float *cm, const float *cl, int N, long P, int C)
{
    for (int n = 0; n < N; n++)
        for (long p = 0; p < P; p++)
            for (int c = 0; c < C; c++)
                cm[(long)c * N * P + n * P + p] = cl[(n * P + p) * C + c];
}

static inline void to_channels_last(float *cl, const float *cm, int N, long P, int C)
{
    for (int n = 0; n < N; n++)
        for (long p = 0; p < P; p++)
            for (int c = 0; c < C; c++)
                cl[(n * P + p) * C + c] = cm[(long)c * N * P + n * P + p];
}

#endif
