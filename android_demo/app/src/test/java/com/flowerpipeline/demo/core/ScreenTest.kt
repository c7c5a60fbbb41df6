package com.flowerpipeline.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

class ScreenTest {
    @Test
    fun analysisSizeIsFourThirdsOfTheModelsSideButNotBelowTheSmallestStream() {
        assertEquals(320 to 240, Screen.analysisSize(224))
        assertEquals(320 to 240, Screen.analysisSize(32))
        assertEquals(512 to 384, Screen.analysisSize(384))
    }

    @Test
    fun targetRotationFollowsTheWayThePhoneIsHeld() {
        assertNull(Screen.targetRotation(-1)) // flat on a table: keep the last one
        assertEquals(listOf(0, 3, 2, 1, 0), listOf(10, 90, 180, 270, 350).map { Screen.targetRotation(it) })
        assertEquals(listOf(0, 3, 3, 2), listOf(44, 45, 134, 135).map { Screen.targetRotation(it) })
    }

    @Test
    fun timingShowsTheWholeFrameBesideTheModel() {
        assertEquals("frame 7.9 ms, model 1.6 ms  (int8, 2 threads)", Screen.timing(7.94, 1.56, "int8", 2))
        assertEquals("frame 3.0 ms, model 1.0 ms  (float32, 1 thread)", Screen.timing(3.0, 1.0, "float32", 1))
    }
}
